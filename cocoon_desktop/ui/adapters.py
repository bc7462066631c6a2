"""The app's Qt adapters, one per core service: what the shell builds and the windows show.

Widgets and windows talk only to these (never to the node or its parts): the shell builds
them once and hands them to the windows, which never see the shell itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocoon_desktop.ui.controllers.chat import ChatController
from cocoon_desktop.ui.controllers.devnet_load import DevnetLoadController
from cocoon_desktop.ui.controllers.doctor import DoctorController
from cocoon_desktop.ui.controllers.earnings import EarningsController
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.gpu import GpuController
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.controllers.models import ModelController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.controllers.wallet import WalletController


@dataclass(frozen=True)
class Adapters:
    settings: SettingsController
    node: NodeController
    engine: EngineController
    gpu: GpuController
    earnings: EarningsController
    wallet: WalletController
    models: ModelController
    doctor: DoctorController
    chat: ChatController
    logs: LogController
    devnet: DevnetLoadController

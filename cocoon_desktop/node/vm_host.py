"""The node's confidential VM (`serve_from = vm`): the engine, and while serving the worker,
run inside a VM booted from the measured image; the ledger, wallet and GPU health stay here.

- A chat (or the engine button) without serving gets an engine-only VM through the engine
  host's factory (`engine_for`).
- Serving (`open_worker`): the network is settled here first (the devnet started, or the root
  config read), then a VM boots with the engine and the worker in its measured config; the
  engine host runs that VM as its engine (`EngineHost.use`) and the node serves through a
  `GuestWorker`, whose events feed the same earnings recorder as the local worker's.
  Stopping drains the guest worker, powers the VM off and gives a passed card back; the next
  chat gets an engine-only VM again. The VM's config is fixed at boot (it is measured), so
  changing what the VM does means booting another.

Before QEMU starts, each VM is prepared on the blocking pool: the image (built once per inputs
and cached), the mode (the best this host has, or the one configured; mainnet only with TDX),
the model disk, and the GPU: a card moves to vfio-pci only after the front end's consent (the
desktop asks; a rig file says `vm.gpu_passthrough = true`), through the elevated helper.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.engine.types import EngineSettings, EngineState
from cocoon_desktop.node.config import NodeConfig, NodeHome
from cocoon_desktop.node.earnings_host import EarningsHost
from cocoon_desktop.node.engine_host import EngineHost, EngineRunner, SupervisorFactory
from cocoon_desktop.node.engine_plan import network_jobs_for
from cocoon_desktop.node.gpu_select import GpuChoice
from cocoon_desktop.node.status import VmView
from cocoon_desktop.vm.gpu import (
    SYSFS,
    GpuConsent,
    HelperRunner,
    PassthroughRequest,
    check_passthrough,
    helper_command,
    run_helper,
    sysfs_address,
)
from cocoon_desktop.vm.modes import LABELS, HostFacts, VmMode, choose_mode
from cocoon_desktop.wallet.chain import ChainService

if TYPE_CHECKING:
    # The VM's own code (QEMU, the image, the guest's channel) and the worker's network stack
    # it brings (the TL schema, the transport) load when the VM is first used, not with the
    # node: the app's first window does not wait for them.
    from cocoon_desktop.node.vm_network import GuestNetwork
    from cocoon_desktop.node.worker_open import OpenedWorker
    from cocoon_desktop.vm.guest_config import EngineSection
    from cocoon_desktop.vm.image import ImageManifest
    from cocoon_desktop.vm.machine import VirtualMachine
    from cocoon_desktop.vm.vm_engine import Progress, VmEngine

log = logging.getLogger(__name__)
BOOT_TIMEOUT_S = 1200.0  # image build, model disk and an emulated (TCG) boot on a busy machine
# The VM's state before QEMU runs (the image, the mode, the model disk, the GPU).
PREPARING_STATES = {EngineState.LOADING: "preparing", EngineState.CRASHED: "failed"}


class VmHost:
    def __init__(self, home: NodeHome, config: Callable[[], NodeConfig],
                 engine: Callable[[], EngineHost],
                 settings: Callable[[], Awaitable[EngineSettings]],
                 gpu: Callable[[], GpuChoice | None],
                 earnings: Callable[[], EarningsHost | None], *,
                 consent: GpuConsent | None = None, helper: HelperRunner = run_helper,
                 sysfs: Path = SYSFS, facts: HostFacts | None = None) -> None:
        """`engine`, `gpu` (the node's card) and `earnings` are the node's parts of the
        moment; `consent` asks before the card moves (None: the rig file's key answers)."""
        self._home = home
        self._config = config
        self._engine_host = engine
        self._settings = settings
        self._gpu = gpu
        self._earnings = earnings
        self._consent = consent or self._rig_consent
        self._helper = helper
        self._sysfs = sysfs
        self._facts = facts or HostFacts()
        self.current: VmEngine | None = None  # the VM the engine host runs or ran last
        self.serving = False  # the current VM runs the worker too

    @property
    def workdir(self) -> Path:
        return self._home.paths.data_dir / "vm"

    @property
    def _engine(self) -> EngineHost:
        return self._engine_host()

    def runner_factory(self, sandboxed: SupervisorFactory) -> SupervisorFactory:
        """The engine host's factory: the VM's engine when the config serves from the VM,
        else `sandboxed` (the engine process here)."""
        def make(settings: EngineSettings, env: Mapping[str, str] | None) -> EngineRunner:
            if self._config().serves_from_vm:
                return self.engine_for(settings)
            return sandboxed(settings, env)
        return make

    def _recorder(self) -> EarningsRecorder | None:
        """Where the VM's worker events are stored: the node's recorder of the moment."""
        earnings = self._earnings()
        return earnings.recorder if earnings is not None else None

    # -- the engine alone (chat) -------------------------------------------------------------
    def engine_for(self, settings: EngineSettings) -> VmEngine:
        """An engine-only VM (the engine host's factory while serving from the VM)."""
        from cocoon_desktop.vm.vm_engine import VmEngine

        self.serving = False
        self.current = VmEngine(settings, lambda progress: self._prepare(settings, None,
                                                                          progress))
        return self.current

    # -- serving ------------------------------------------------------------------------------
    async def open_worker(self, config: NodeConfig, owner_address: str,
                          chain: ChainService | None) -> OpenedWorker:
        """Boot a VM with the engine and the worker for `config.network`, and serve through it
        (WorkerSetupError, EngineStartError say why not)."""
        from cocoon_desktop.node.vm_network import resolve_guest_network
        from cocoon_desktop.node.worker_open import OpenedWorker
        from cocoon_desktop.vm.guest_worker import GuestWorker
        from cocoon_desktop.vm.vm_engine import VmEngine

        settings = await self._settings()
        network = await resolve_guest_network(
            config, settings.model_name, owner_address,
            network_jobs_for(settings.parallel_sequences), lambda: self._engine.endpoint, chain)
        engine = VmEngine(settings, lambda progress: self._prepare(settings, network,
                                                                    progress))
        self.current, self.serving = engine, True
        try:
            await self._engine.use(engine)
            await self._engine.ensure_running(BOOT_TIMEOUT_S)
        except BaseException:
            await self._engine.release()
            await network.close()
            raise
        assert engine.vm is not None
        worker = GuestWorker(engine.vm, network.worker_config)

        async def close() -> None:
            await worker.stop()
            await self._engine.release()  # the VM powers off (the worker was drained)
            await network.close()

        return OpenedWorker(worker, network.label, close, network.devnet)

    # -- preparing one VM (before QEMU starts) ------------------------------------------------
    async def _prepare(self, settings: EngineSettings, network: GuestNetwork | None,
                       progress: Progress) -> VirtualMachine:
        from cocoon_desktop.vm.guest_config import GuestConfig
        from cocoon_desktop.vm.machine import VirtualMachine
        from cocoon_desktop.vm.model_disk import ensure_model_disk
        from cocoon_desktop.vm.qemu import vsock_cid

        config = self._config()
        if settings.draft_model_path is not None:
            raise EngineStartError(
                f"The draft model {settings.draft_model_path.name} cannot be used in the "
                "confidential VM: only the served model gets a verified disk the guest can "
                "read. Clear the draft model (Settings, or `model.draft_path` in the rig file; "
                "drafts then come from the prompt) or serve from this computer's sandbox.")
        progress("checking the VM image (built once, then cached).")
        image = await self._image()
        progress("finding how this host can run the VM.")
        mode = await self._mode(image, config)
        section = network.for_mode(mode, config) if network is not None else None
        progress(f"preparing the model disk ({settings.model_path.name}).")
        model_disk, model = await run_blocking(ensure_model_disk, settings.model_path)
        gpu, restore = await self.pass_gpu(config)
        guest = GuestConfig(mode=mode.value, network=config.network.value if section else "none",
                            model_name=settings.model_name, model=model,
                            engine=_engine_section(settings, config), worker=section)
        log.info("the VM runs as %s: %s", mode, LABELS[mode])
        return VirtualMachine(
            image, mode, guest, model_disk, self.workdir, event_store=self._recorder,
            memory_mib=config.vm_memory_mib, cpus=config.vm_cpus, gpu=gpu, restore_gpu=restore,
            tdx_firmware=self._facts.firmware() if mode is VmMode.TDX else None,
            vsock_cid=vsock_cid(config.instance), qemu_binary=self._facts.qemu_binary,
            forwards=network.forwards if network is not None else (), sysfs=self._sysfs)

    async def _image(self) -> ImageManifest:
        from cocoon_desktop.vm.build import BuildErrors, ensure_image

        try:
            return await run_blocking(ensure_image)
        except (*BuildErrors, OSError) as exc:
            raise EngineStartError(
                f"The VM image cannot be built: {exc} It is built from the source checkout "
                "(scripts/run-app.sh installs what it needs; scripts/build-vm-image.sh builds "
                "it by hand).") from None

    async def _mode(self, image: ImageManifest, config: NodeConfig) -> VmMode:
        from cocoon_desktop.vm.host import available_modes

        found = await available_modes(image, self._facts)
        try:
            return choose_mode(found, None if config.vm_mode == "auto" else
                               VmMode(config.vm_mode))
        except ValueError as exc:
            raise EngineStartError(f"The VM cannot run here: {exc}") from None

    async def pass_gpu(self, config: NodeConfig
                        ) -> tuple[str | None, Callable[[str], Awaitable[None]] | None]:
        """The node's card for the VM, moved to vfio-pci after consent (None: no card)."""
        card = self._gpu()
        if card is None:
            return None, None
        address = sysfs_address(card.pci_bus_id)
        check = await run_blocking(check_passthrough, address, self._sysfs)
        if check.refusal is not None:
            raise EngineStartError(f"{card.name} cannot go to the VM: {check.refusal}")
        if not check.bound_to_vfio:
            if not await self._consent(PassthroughRequest(address, card.name, check)):
                raise EngineStartError(
                    f"{card.name} was not passed to the VM: "
                    + ("the rig file does not allow it (set `vm.gpu_passthrough = true`)."
                       if config.headless else "you did not agree.")
                    + " It stays with this computer; serve from this computer's sandbox "
                    "instead, or agree to move it.")
            code, output = await self._helper(helper_command("bind", address))
            if code != 0:
                raise EngineStartError(f"{card.name} could not be moved to vfio-pci: "
                                       f"{output or f'the helper exited with {code}'}")
        return address, self._give_back

    async def _give_back(self, address: str) -> None:
        code, output = await self._helper(helper_command("restore", address))
        if code != 0:
            raise RuntimeError(f"{output or f'the helper exited with {code}'}; run "
                               f"{' '.join(helper_command('restore', address))} by hand")

    async def _rig_consent(self, request: PassthroughRequest) -> bool:
        allowed = self._config().vm_gpu_passthrough
        log.info("%s %s", request.question, "The rig file allows it." if allowed else
                 "The rig file does not allow it (vm.gpu_passthrough).")
        return allowed

    # -- status --------------------------------------------------------------------------------
    def view(self) -> VmView | None:
        """The VM in the node's status (None unless serving from the VM)."""
        if not self._config().serves_from_vm:
            return None
        engine = self.current
        vm = engine.vm if engine is not None else None
        if vm is None:
            if engine is None:
                return VmView(state="stopped", detail="The VM is not running.")
            return VmView(state=PREPARING_STATES.get(engine.status.state, "stopped"),
                          detail=engine.status.detail)
        status = vm.status
        return VmView(
            state=status.state.value, detail=status.detail, mode=vm.mode.value,
            mode_label=LABELS[vm.mode], progress_fraction=status.progress_fraction,
            boot_s=status.boot_s, image_sha256=vm.image.image_sha256,
            measurement=status.measurement.describe() if status.measurement else "",
            gpu=vm.gpu or "", worker_inside=self.serving and vm.config.worker is not None)


def _engine_section(settings: EngineSettings, config: NodeConfig) -> EngineSection:
    from cocoon_desktop.vm.guest_config import EngineSection

    return EngineSection(context_tokens=settings.context_tokens,
                         parallel_sequences=settings.parallel_sequences, threads=config.vm_cpus,
                         gpu_layers=settings.gpu_layers, speculative=settings.speculative,
                         max_queued_requests=settings.max_queued_requests,
                         max_completion_tokens=settings.max_completion_tokens)


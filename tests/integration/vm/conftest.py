"""The VM tests' shared parts: the image (built once per inputs key, offline, from the
packages scripts/bootstrap.sh fetched) and the bundled model's disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.vm.build import ensure_image
from cocoon_desktop.vm.guest_config import ModelDiskInfo
from cocoon_desktop.vm.image import ImageManifest
from cocoon_desktop.vm.model_disk import ensure_model_disk
from tests.helpers.bundled_model import bundled_model_or_skip
from tests.helpers.vm_image import vm_tools_or_skip


@pytest.fixture(scope="session")
def vm_image() -> ImageManifest:
    vm_tools_or_skip()
    return ensure_image(offline=True)


@pytest.fixture(scope="session")
def model_disk() -> tuple[Path, ModelDiskInfo]:
    return ensure_model_disk(bundled_model_or_skip())

"""The guest's Python payload: every library its code imports is in the image (a guest that
imports one the lock lacks fails at boot: dcap_qvl and psutil did, after the engine and the
quote code started importing them), and the app's own files are only those the guest reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.vm import payload
from cocoon_desktop.vm.build import RECIPE_DIR

PINS = payload.read_python_lock(RECIPE_DIR / "python.lock")


def test_the_guest_code_imports_only_what_the_image_holds() -> None:
    payload.check_imports(payload.app_files(), PINS)


@pytest.mark.parametrize("library", ["dcap_qvl", "psutil"])
def test_a_library_missing_from_the_lock_is_named_before_the_build(library: str) -> None:
    distribution = {"dcap_qvl": "dcap-qvl", "psutil": "psutil"}[library]
    without = {name: v for name, v in PINS.items() if name != distribution}
    with pytest.raises(payload.PayloadError, match=rf"imports libraries the image lacks: "
                       rf"{library} \("):
        payload.check_imports(payload.app_files(), without)


def test_a_lazy_import_counts_too(tmp_path: Path) -> None:
    module = tmp_path / "cocoon_desktop" / "late.py"
    module.parent.mkdir()
    module.write_text("def f():\n    import PySide6.QtCore\n")
    item = payload.PayloadFile(module, "usr/lib/python3/dist-packages/cocoon_desktop/late.py",
                               "00")
    with pytest.raises(payload.PayloadError, match=r"PySide6.QtCore \(late.py:2\)"):
        payload.check_imports([item], PINS)


def test_the_guest_gets_the_engine_worker_and_agent_but_no_app_side() -> None:
    modules = {f.dest.split("dist-packages/", 1)[1] for f in payload.app_files()}
    assert {"cocoon_desktop/vm/guest/agent.py", "cocoon_desktop/engine/process/server.py",
            "cocoon_desktop/network/worker/worker.py"} <= modules
    assert not [m for m in modules if m.startswith(("cocoon_desktop/ui", "cocoon_desktop/node",
                                                    "cocoon_desktop/wallet"))]


def test_a_gpu_build_of_llama_cpp_is_refused_before_the_build(tmp_path: Path) -> None:
    """The image has no NVIDIA driver or CUDA: a CUDA llama.cpp would not load in the guest."""
    payload.check_cpu_only(payload.library_files(PINS))  # this environment's CPU build
    cuda = payload.PayloadFile(tmp_path / "x", f"{payload.SITE_PACKAGES}/lib/libggml-cuda.so",
                               "00")
    with pytest.raises(payload.PayloadError, match="built for cuda, and the VM image carries "
                       "no GPU driver"):
        payload.check_cpu_only([*payload.library_files(PINS), cuda])


def test_without_the_recipe_the_build_says_it_needs_the_checkout(tmp_path: Path) -> None:
    """An installed bundle has the VM's host code but not the recipe (vm/) nor the pinned
    environment: choosing the VM there says where it works instead of a traceback."""
    from cocoon_desktop.vm.build import gather_inputs
    from cocoon_desktop.vm.image import ImageError

    with pytest.raises(ImageError, match=r"built from the source checkout.*scripts/run-app.sh"):
        gather_inputs(tmp_path / "vm")

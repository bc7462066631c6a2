"""The model library: bundled always present, added files persisted, problems as states."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cocoon_desktop.core.paths import AppPaths
from cocoon_desktop.engine.models.bundled import BundledModelMissing
from cocoon_desktop.engine.models.gguf_meta import ModelFileError, NotGgufError
from cocoon_desktop.engine.models.model_library import ModelLibrary, ModelNotInLibrary, ModelState
from tests.helpers.tiny_gguf import TinyLlamaSpec, write_tiny_llama


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    """Stands in for the bundled model (the real one is tested in tests/integration/models)."""
    return write_tiny_llama(tmp_path / "bundled" / "Bundled.gguf", seed=7)


@pytest.fixture
def library(paths: AppPaths, bundled: Path) -> ModelLibrary:
    return ModelLibrary(paths, bundled_finder=lambda: bundled)


def test_a_new_library_lists_only_the_bundled_model(library: ModelLibrary, bundled: Path) -> None:
    (entry,) = library.entries()
    assert entry.bundled and entry.path == bundled and entry.state is ModelState.READY
    assert entry.metadata is not None and entry.problem is None


def test_added_models_persist_across_instances(
    paths: AppPaths, bundled: Path, tiny_model: Path
) -> None:
    entry = ModelLibrary(paths, bundled_finder=lambda: bundled).add(tiny_model)
    assert entry.state is ModelState.READY and not entry.bundled
    assert entry.display_name == "Tiny Llama Test"
    reopened = ModelLibrary(paths, bundled_finder=lambda: bundled)
    assert [e.path for e in reopened.entries()] == [bundled, tiny_model.resolve()]
    assert reopened.entries()[1].added_at_unix == entry.added_at_unix


def test_adding_twice_keeps_one_entry(library: ModelLibrary, tiny_model: Path) -> None:
    first = library.add(tiny_model)
    assert library.add(tiny_model) == first
    assert len(library.entries()) == 2


def test_adding_a_bad_file_raises_and_changes_nothing(
    library: ModelLibrary, paths: AppPaths, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model at all")
    with pytest.raises(NotGgufError):
        library.add(junk)
    with pytest.raises(ModelFileError):
        library.add(tmp_path / "nowhere.gguf")
    assert len(library.entries()) == 1
    assert not (paths.data_dir / "models.json").exists()


def test_remove_and_re_add(library: ModelLibrary, tiny_model: Path) -> None:
    library.add(tiny_model)
    library.remove(tiny_model)
    assert len(library.entries()) == 1
    assert tiny_model.exists()  # the file itself is left alone
    with pytest.raises(ModelNotInLibrary):
        library.remove(tiny_model)
    assert library.add(tiny_model).state is ModelState.READY


def test_the_bundled_model_cannot_be_removed(library: ModelLibrary, bundled: Path) -> None:
    with pytest.raises(ValueError, match="cannot be removed"):
        library.remove(bundled)
    assert library.add(bundled).bundled  # adding it is harmless: it is the bundled entry


def test_a_missing_file_is_a_state_with_advice(library: ModelLibrary, tiny_model: Path) -> None:
    library.add(tiny_model)
    tiny_model.unlink()
    entry = library.entries()[1]
    assert entry.state is ModelState.MISSING
    assert entry.metadata is None and "Locate it again" in (entry.problem or "")
    tiny_model.write_bytes(b"")  # it came back, broken
    assert library.entries()[1].state is ModelState.INVALID


def test_a_file_replaced_by_junk_becomes_invalid(library: ModelLibrary, tiny_model: Path) -> None:
    library.add(tiny_model)
    tiny_model.write_text("<html>oops</html>")
    entry = library.entries()[1]
    assert entry.state is ModelState.INVALID and "web page" in (entry.problem or "")


def test_a_missing_bundled_package_is_an_entry_not_a_crash(paths: AppPaths) -> None:
    def finder() -> Path:
        raise BundledModelMissing("The default model is not installed. Run scripts/run-app.sh")

    (entry,) = ModelLibrary(paths, bundled_finder=finder).entries()
    assert entry.bundled and entry.state is ModelState.MISSING
    assert "scripts/run-app.sh" in (entry.problem or "")


def test_an_unreadable_list_is_kept_aside_and_reported(
    paths: AppPaths, bundled: Path, tiny_model: Path
) -> None:
    list_file = paths.data_dir / "models.json"
    list_file.write_text("{broken")
    library = ModelLibrary(paths, bundled_finder=lambda: bundled)
    assert "could not be read" in (library.load_problem or "")
    kept = list(paths.data_dir.glob("models.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{broken"
    library.add(tiny_model)
    saved = json.loads(list_file.read_text())
    assert [m["path"] for m in saved["models"]] == [str(tiny_model.resolve())]


def test_hash_and_cocoon_name_are_cached_for_the_entry(
    library: ModelLibrary, tiny_model: Path
) -> None:
    entry = library.add(tiny_model)
    assert entry.sha256_hex is None and entry.cocoon_name is None
    name = library.cocoon_name(tiny_model)
    again = library.entry(tiny_model)
    assert again.sha256_hex == name.hash and again.cocoon_name == name
    assert str(name).startswith("CocoonTests/Tiny-Llama.F32@local:")


def test_metadata_is_served_from_the_cache_until_the_file_changes(
    library: ModelLibrary, tiny_model: Path, tmp_path: Path
) -> None:
    library.add(tiny_model)
    assert library.metadata(tiny_model).block_count == 2
    stat = tiny_model.stat()
    # Other bytes, same size and mtime: the cached metadata is still served.
    tiny_model.write_bytes(b"\0" * stat.st_size)
    os.utime(tiny_model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert library.metadata(tiny_model).block_count == 2
    # A different model (new size and mtime) misses the cache and is read again.
    other = write_tiny_llama(tmp_path / "other.gguf", seed=2, spec=TinyLlamaSpec(block_count=3))
    tiny_model.write_bytes(other.read_bytes())
    assert library.metadata(tiny_model).block_count == 3

"""Trimming PyInstaller's binaries: unused Qt plugins go, and so does what only they needed."""

from __future__ import annotations

from pathlib import Path

from installers.bundle_prune import (
    drop_dangling_symlinks,
    is_unused_plugin,
    link_identical_copies,
    prune_binaries,
)

PLUGINS = "PySide6/Qt/plugins"
QT_LIB = "PySide6/Qt/lib"
# What each (fake) source file links, as the dynamic section would say.
NEEDED = {
    "/src/QtWidgets.abi3.so": ["libQt6Widgets.so.6", "libpyside6.abi3.so.6.12"],
    "/src/libQt6Widgets.so.6": ["libQt6Gui.so.6"],
    "/src/libQt6Gui.so.6": ["libQt6Core.so.6", "libfreetype.so.6"],
    "/src/libqxcb.so": ["libQt6XcbQpa.so.6"],
    "/src/libQt6XcbQpa.so.6": ["libxcb-cursor.so.0"],
    "/src/libqtvirtualkeyboardplugin.so": ["libQt6VirtualKeyboard.so.6"],
    "/src/libQt6VirtualKeyboard.so.6": ["libQt6Quick.so.6"],
    "/src/libQt6Quick.so.6": ["libQt6Qml.so.6", "libQt6Gui.so.6"],
    "/src/libqgtk3.so": ["libgtk-3.so.0"],
    "/src/libgtk-3.so.0": ["libfreetype.so.6", "libcairo.so.2"],
}


def binary(destination: str, kind: str = "BINARY") -> tuple[str, str, str]:
    return (destination, f"/src/{Path(destination).name}", kind)


TOC = [
    binary("PySide6/QtWidgets.abi3.so", "EXTENSION"),
    binary("libpyside6.abi3.so.6.12"),
    *(binary(f"{QT_LIB}/{name}") for name in (
        "libQt6Widgets.so.6", "libQt6Gui.so.6", "libQt6Core.so.6", "libQt6XcbQpa.so.6",
        "libQt6VirtualKeyboard.so.6", "libQt6Quick.so.6", "libQt6Qml.so.6")),
    binary(f"{PLUGINS}/platforms/libqxcb.so"),
    binary(f"{PLUGINS}/platforminputcontexts/libqtvirtualkeyboardplugin.so"),
    binary(f"{PLUGINS}/platformthemes/libqgtk3.so"),
    binary("libxcb-cursor.so.0"), binary("libfreetype.so.6"), binary("libgtk-3.so.0"),
    binary("libcairo.so.2"), binary("libpython3.11.so.1.0"), binary("libssl.so.3"),
    binary("llama_cpp/lib/libllama.so"),  # loaded by ctypes: nothing links it
    ("libQt6Quick.so.6", f"{QT_LIB}/libQt6Quick.so.6", "SYMLINK"),
    ("libQt6Core.so.6", f"{QT_LIB}/libQt6Core.so.6", "SYMLINK"),
]


def pruned() -> set[str]:
    return {entry[0] for entry in prune_binaries(TOC, lambda src: NEEDED.get(src, []))}


def test_unused_plugins_and_the_libraries_only_they_needed_are_dropped() -> None:
    kept = pruned()
    gone = {f"{PLUGINS}/platforminputcontexts/libqtvirtualkeyboardplugin.so",
            f"{PLUGINS}/platformthemes/libqgtk3.so", f"{QT_LIB}/libQt6VirtualKeyboard.so.6",
            f"{QT_LIB}/libQt6Quick.so.6", f"{QT_LIB}/libQt6Qml.so.6", "libgtk-3.so.0",
            "libcairo.so.2"}
    assert kept.isdisjoint(gone)


def test_what_the_app_links_stays_even_when_a_dropped_plugin_also_linked_it() -> None:
    kept = pruned()
    assert {f"{QT_LIB}/libQt6Widgets.so.6", f"{QT_LIB}/libQt6Gui.so.6",
            f"{QT_LIB}/libQt6Core.so.6", f"{QT_LIB}/libQt6XcbQpa.so.6", "libxcb-cursor.so.0",
            "libfreetype.so.6", f"{PLUGINS}/platforms/libqxcb.so",
            "libpyside6.abi3.so.6.12", "PySide6/QtWidgets.abi3.so"} <= kept


def test_dlopened_and_ctypes_loaded_libraries_are_never_dropped() -> None:
    kept = pruned()
    assert {"libpython3.11.so.1.0", "libssl.so.3", "llama_cpp/lib/libllama.so"} <= kept


def test_symlinks_to_dropped_libraries_are_dropped_with_them() -> None:
    kept_binaries = prune_binaries(TOC, lambda src: NEEDED.get(src, []))
    datas = [("libQt6Quick.so.6", f"{QT_LIB}/libQt6Quick.so.6", "SYMLINK"),
             ("README", "/src/README", "DATA")]
    collected = kept_binaries + datas
    assert [e[0] for e in drop_dangling_symlinks(datas, collected)] == ["README"]
    links = [e for e in drop_dangling_symlinks(kept_binaries, collected) if e[2] == "SYMLINK"]
    assert links == [("libQt6Core.so.6", f"{QT_LIB}/libQt6Core.so.6", "SYMLINK")]


def test_plugin_matching_is_by_folder_or_exact_file() -> None:
    assert is_unused_plugin(f"{PLUGINS}/generic/libqevdevmouseplugin.so")
    assert is_unused_plugin(f"{PLUGINS}/imageformats/libqpdf.so")
    assert not is_unused_plugin(f"{PLUGINS}/imageformats/libqsvg.so")
    assert not is_unused_plugin(f"{PLUGINS}/platforms/libqxcb.so")
    assert not is_unused_plugin("generic/libqevdevmouseplugin.so")  # not a Qt plugin path


def test_identical_unversioned_copies_become_symlinks(tmp_path: Path) -> None:
    for name, data in (("libllama.so", b"A"), ("libllama.so.0", b"A"), ("libmtmd.so", b"B"),
                       ("libggml.so", b"C"), ("libggml.so.0", b"D")):
        (tmp_path / name).write_bytes(data)
    toc = [(f"llama_cpp/lib/{name}", str(tmp_path / name), "BINARY")
           for name in ("libllama.so", "libllama.so.0", "libmtmd.so", "libggml.so",
                        "libggml.so.0")]
    result = {e[0]: e for e in link_identical_copies(toc)}
    assert result["llama_cpp/lib/libllama.so"] == ("llama_cpp/lib/libllama.so", "libllama.so.0",
                                                   "SYMLINK")
    assert result["llama_cpp/lib/libllama.so.0"][2] == "BINARY"
    assert result["llama_cpp/lib/libmtmd.so"][2] == "BINARY"  # no versioned twin
    assert result["llama_cpp/lib/libggml.so"][2] == "BINARY"  # a twin, but different bytes

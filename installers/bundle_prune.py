"""Trimming PyInstaller's table of binaries for Cocoon Desktop (used by cocoon-desktop.spec).

PyInstaller's Qt hooks collect every plugin of the kinds QtGui uses, and then every library those
plugins need: the virtual-keyboard input plugin alone drags in QtQuick and QtQml, the PDF image
plugin QtPdf, the GTK3 theme plugin a whole GTK stack (whose bundled copy then fights the
system's own GTK modules). The app needs none of them. `prune_binaries` drops the plugins named
in `UNUSED_QT_PLUGINS`, then every bundled shared library that nothing left needs (Linux: the
`NEEDED` entries, read by PyInstaller's own `bindepend.get_imports`), and turns byte-identical
`libX.so` / `libX.so.N` copies (wheels cannot hold symlinks) into symlinks.

Kept whatever the analysis says: libraries loaded with dlopen() rather than linked
(`DLOPENED`), and every binary that is not a mere dependency (Python extensions, plugins,
llama.cpp's libraries, which ctypes loads by path).
"""

from __future__ import annotations

import filecmp
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

TocEntry = tuple[str, str, str]  # (destination, source or symlink target, type code)

QT_PLUGINS = "PySide6/Qt/plugins/"
UNUSED_QT_PLUGINS = (
    "platforminputcontexts/libqtvirtualkeyboardplugin.so",  # QtQuick + QtQml + VirtualKeyboard
    "imageformats/libqpdf.so",  # QtPdf
    "imageformats/libqtiff.so", "imageformats/libqwebp.so", "imageformats/libqtga.so",
    "imageformats/libqwbmp.so", "imageformats/libqicns.so",
    "platformthemes/libqgtk3.so",  # a GTK3 stack; the xdg-desktop-portal theme stays
    # Embedded targets without a window system, and their input and EGL device plugins.
    "platforms/libqeglfs.so", "platforms/libqlinuxfb.so", "platforms/libqvnc.so",
    "platforms/libqvkkhrdisplay.so", "platforms/libqminimalegl.so",
    "egldeviceintegrations/", "generic/",
    # Wayland shells of kiosks, cars and Qt's own compositor; xdg-shell (desktops) stays.
    "wayland-shell-integration/libivi-shell.so",
    "wayland-shell-integration/libfullscreen-shell-v1.so",
    "wayland-shell-integration/libqt-shell.so",
)
# Library folders whose entries are only there because something links them.
DEPENDENCY_DIRS = ("", "PySide6/Qt/lib")
# Opened with dlopen() at run time, so no NEEDED entry names them.
DLOPENED = re.compile(r"^lib(python3\.\d+|ssl|crypto|dbus-1|gcc_s|stdc\+\+)\.so")
_VERSIONED = re.compile(r"^(?P<base>.+\.so)\.\d+$")


def is_unused_plugin(destination: str) -> bool:
    if not destination.startswith(QT_PLUGINS):
        return False
    rest = destination[len(QT_PLUGINS):]
    return any(rest == p or (p.endswith("/") and rest.startswith(p)) for p in UNUSED_QT_PLUGINS)


def _is_dependency(entry: TocEntry) -> bool:
    destination, _, kind = entry
    path = PurePosixPath(destination)
    parent = "" if str(path.parent) == "." else str(path.parent)
    return kind == "BINARY" and parent in DEPENDENCY_DIRS and not DLOPENED.match(path.name)


def prune_binaries(binaries: Iterable[TocEntry],
                   needed_by: Callable[[str], Iterable[str]]) -> list[TocEntry]:
    """`binaries` without unused Qt plugins and without the libraries only they needed.

    `needed_by(source_path)` lists the library names a binary links (its NEEDED entries)."""
    entries = [e for e in binaries if not is_unused_plugin(e[0])]
    by_name: dict[str, list[TocEntry]] = {}
    for entry in entries:
        if entry[2] != "SYMLINK":
            by_name.setdefault(PurePosixPath(entry[0]).name, []).append(entry)
    reached: set[TocEntry] = set()
    pending = [e for e in entries if e[2] != "SYMLINK" and not _is_dependency(e)]
    while pending:
        entry = pending.pop()
        if entry in reached:
            continue
        reached.add(entry)
        for name in needed_by(entry[1]):
            pending += [e for e in by_name.get(PurePosixPath(name).name, []) if e not in reached]
    return [e for e in entries
            if e[2] == "SYMLINK" or e in reached or not _is_dependency(e)]


def drop_dangling_symlinks(entries: Iterable[TocEntry], collected: Iterable[TocEntry]
                           ) -> list[TocEntry]:
    """`entries` without symlinks whose target is not among `collected` (PyInstaller records
    the links it makes for libraries in both tables, binaries and datas)."""
    present = {e[0] for e in collected if e[2] != "SYMLINK"}
    return [e for e in entries if e[2] != "SYMLINK" or _link_target(e) in present]


def _link_target(entry: TocEntry) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(entry[0]), entry[1]))


def link_identical_copies(binaries: Iterable[TocEntry],
                          same_file: Callable[[str, str], bool] | None = None) -> list[TocEntry]:
    """Turn `libX.so` into a symlink to `libX.so.N` in the same folder when the bytes are equal."""
    same = same_file or (lambda a, b: filecmp.cmp(a, b, shallow=False))
    entries = list(binaries)
    by_destination = {e[0]: e for e in entries if e[2] == "BINARY"}
    result = []
    for entry in entries:
        twin = next((by_destination[d] for d in by_destination
                     if (m := _VERSIONED.match(d)) and m["base"] == entry[0]), None)
        if entry[2] == "BINARY" and twin is not None and same(entry[1], twin[1]):
            result.append((entry[0], PurePosixPath(twin[0]).name, "SYMLINK"))
        else:
            result.append(entry)
    return result

"""Render the app icon (resources/app.svg) for every installer, with Qt only.

    python installers/icons.py OUT_DIR

writes
    OUT_DIR/hicolor/scalable/apps/cocoon-desktop.svg      the drawing itself (Linux)
    OUT_DIR/hicolor/<N>x<N>/apps/cocoon-desktop.png       N in PNG_SIZES (Linux menus, docks)
    OUT_DIR/cocoon-desktop.ico                            Windows (PNG-compressed entries)
    OUT_DIR/cocoon-desktop.icns                           macOS (PNG entries)

The .ico and .icns containers are written here rather than by `iconutil` or Pillow so every
platform's icon is built, and checked, on any machine.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from pathlib import Path

ICON_NAME = "cocoon-desktop"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size (Apple's icns format).
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
              (b"ic09", 512), (b"ic10", 1024))
SOURCE = Path(__file__).resolve().parent.parent / "resources" / "app.svg"


_qt_app: object = None


def render_pngs(svg: Path, sizes: set[int]) -> dict[int, bytes]:
    """PNG bytes of `svg` drawn at each size (square, transparent background)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    # Fonts need a Qt application. A QApplication (not the lighter QGuiApplication), kept for the
    # life of the process: this also runs inside the test process, where later widget tests need
    # the one Qt application to be a QApplication that still exists.
    global _qt_app
    _qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG drawing")
    pngs = {}
    for size in sorted(sizes):
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        pngs[size] = bytes(data.data())
    return pngs


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico whose entries are PNG images (supported since Windows Vista)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        dimension = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(data),
                               offset + len(blobs))
        blobs += data
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns whose elements are PNG images."""
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
                    for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_icons(out_dir: Path, svg: Path = SOURCE) -> None:
    pngs = render_pngs(svg, set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES})
    scalable = out_dir / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable / f"{ICON_NAME}.svg")
    for size in PNG_SIZES:
        folder = out_dir / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{ICON_NAME}.png").write_bytes(pngs[size])
    (out_dir / f"{ICON_NAME}.ico").write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    (out_dir / f"{ICON_NAME}.icns").write_bytes(icns_bytes(pngs))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python installers/icons.py OUT_DIR")
    write_icons(Path(sys.argv[1]))

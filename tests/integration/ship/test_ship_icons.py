"""The app icon rendered for every installer (hicolor PNGs, .ico, .icns), read back byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from installers.icons import ICNS_TYPES, ICO_SIZES, PNG_SIZES, SOURCE, write_icons

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_has_colour(data: bytes) -> bool:
    """A drawn icon is more than a few hundred bytes of one transparent colour."""
    return len(data) > 300


@pytest.fixture(scope="module")
def icons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    write_icons(out)
    return out


def test_hicolor_theme_has_every_size_and_the_scalable_drawing(icons: Path) -> None:
    for size in PNG_SIZES:
        data = (icons / "hicolor" / f"{size}x{size}" / "apps" / "cocoon-desktop.png").read_bytes()
        assert png_size(data) == (size, size) and png_has_colour(data)
    svg = icons / "hicolor" / "scalable" / "apps" / "cocoon-desktop.svg"
    assert svg.read_bytes() == SOURCE.read_bytes()


def test_ico_directory_points_at_png_images_of_the_stated_sizes(icons: Path) -> None:
    data = (icons / "cocoon-desktop.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, len(ICO_SIZES))
    for index, size in enumerate(ICO_SIZES):
        width, height, _, _, planes, bpp, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index: 22 + 16 * index])
        assert (width or 256, height or 256, planes, bpp) == (size, size, 1, 32)
        assert png_size(data[offset: offset + length]) == (size, size)
    assert offset + length == len(data)


def test_icns_elements_are_pngs_of_their_types_sizes(icons: Path) -> None:
    data = (icons / "cocoon-desktop.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    position, seen = 8, []
    while position < len(data):
        kind, length = data[position: position + 4], struct.unpack(
            ">I", data[position + 4: position + 8])[0]
        seen.append((kind, png_size(data[position + 8: position + length])[0]))
        position += length
    assert position == len(data)
    assert seen == list(ICNS_TYPES)

"""Debian packages made on the spot (an `ar` archive with a data.tar.xz), for the image
builder's tests: real .deb files with whatever members a test needs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def tar_member(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE,
               link: str = "", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1_600_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def make_deb(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        for info, body in members:
            tar.addfile(info, io.BytesIO(body) if info.isreg() else None)
    parts = [(b"debian-binary", b"2.0\n"), (b"control.tar.xz", b""),
             (b"data.tar.xz", data.getvalue())]
    out = b"!<arch>\n"
    for name, body in parts:
        header = (name + b"/").ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) \
            + b"100644".ljust(8) + str(len(body)).encode().ljust(10) + b"`\n"
        out += header + body + (b"\n" if len(body) % 2 else b"")
    path.write_bytes(out)
    return path

"""Debian packages for the image: the lock file, the download cache, extraction without dpkg.

The lock (`vm/debian.lock`) pins every package of the guest by version, download URL and SHA-256;
`resolve_lock` writes it from `vm/packages.txt` on a Debian 12 host with apt (a developer step,
committed), the build only reads it. Downloads are checked against the lock and kept in a cache
outside the checkout; offline builds use that cache alone. Extraction is plain Python (ar +
tar): no maintainer scripts run, paths are merged into /usr as Debian 12 does (bin, sbin, lib,
lib64 are symlinks into usr/), and documentation, manual pages and translations are left out.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import re
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MERGED_DIRS = ("bin", "sbin", "lib", "lib64")
SKIPPED_PREFIXES = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/",
                    "usr/share/lintian/", "usr/share/bug/", "usr/share/doc-base/")
_LOCK_HEADER = ("# Debian packages of the guest image, pinned (name version sha256 size url).\n"
                "# Written by `scripts/build-vm-image.sh --lock` from vm/packages.txt; do not "
                "edit by hand.\n")


class DebianPackageError(Exception):
    """A package could not be resolved, fetched or unpacked; the text says which and why."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    sha256_hex: str
    size_bytes: int
    url: str

    @property
    def file_name(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.sha256_hex[:12]}.deb"

    def line(self) -> str:
        return f"{self.name} {self.version} {self.sha256_hex} {self.size_bytes} {self.url}"


def read_lock(path: Path) -> tuple[LockedPackage, ...]:
    packages = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 5 or not re.fullmatch(r"[0-9a-f]{64}", parts[2]):
            raise DebianPackageError(f"{path}:{number} is not `name version sha256 size url`; "
                                     "regenerate the lock with scripts/build-vm-image.sh --lock.")
        packages.append(LockedPackage(parts[0], parts[1], parts[2], int(parts[3]), parts[4]))
    return tuple(packages)


def write_lock(path: Path, packages: Iterable[LockedPackage]) -> None:
    lines = sorted(p.line() for p in packages)
    path.write_text(_LOCK_HEADER + "\n".join(lines) + "\n")


@dataclass(frozen=True)
class PackageSpec:
    """`vm/packages.txt`: one package a line; `!name` leaves a dependency out (it is needed
    only to install packages, never at run time, e.g. dpkg or perl)."""

    wanted: tuple[str, ...]
    excluded: frozenset[str]

    @classmethod
    def read(cls, path: Path) -> PackageSpec:
        words = [w for raw in path.read_text().splitlines()
                 for w in raw.split("#", 1)[0].split()]
        return cls(tuple(w for w in words if not w.startswith("!")),
                   frozenset(w[1:] for w in words if w.startswith("!")))


def resolve_lock(spec: PackageSpec, run: Callable[[list[str]], str] | None = None
                 ) -> tuple[LockedPackage, ...]:
    """Every package `spec` needs at the mirror's current versions (apt-cache, apt-get)."""
    run = run or _run_text
    chosen: dict[str, str] = {}
    pending = list(spec.wanted)
    while pending:
        name = pending.pop()
        if name in chosen or name in spec.excluded:
            continue
        fields = _apt_fields(run(["apt-cache", "show", "--no-all-versions", name]))
        chosen[name] = fields["Version"]
        depends = ", ".join(filter(None, (fields.get("Pre-Depends"), fields.get("Depends"))))
        for group in filter(None, (g.strip() for g in depends.split(","))):
            first = group.split("|")[0].split()[0].split(":")[0]
            pending.append(first)
    uris = run(["apt-get", "download", "--print-uris",
                *(f"{n}={v}" for n, v in sorted(chosen.items()))])
    locked = []
    for line in uris.splitlines():
        match = re.match(r"'([^']+)' (\S+) (\d+) SHA256:([0-9a-f]{64})", line)
        if match:
            url, file_name, size, digest = match.groups()
            name = file_name.split("_", 1)[0]
            locked.append(LockedPackage(name, chosen[name], digest, int(size), url))
    missing = set(chosen) - {p.name for p in locked}
    if missing:
        raise DebianPackageError(f"apt gave no download for {', '.join(sorted(missing))}.")
    return tuple(locked)


def _apt_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith(" "):
            key, value = line.split(":", 1)
            fields.setdefault(key, value.strip())
    if "Version" not in fields:
        raise DebianPackageError(f"apt-cache gave no version: {text[:200]!r}")
    return fields


def _run_text(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise DebianPackageError(f"`{' '.join(argv[:3])}` failed: {detail.strip()}. Resolving "
                                 "the lock needs a Debian 12 host with apt.") from None


def fetch(packages: Iterable[LockedPackage], cache_dir: Path, *, offline: bool,
          mirror: str | None = None) -> dict[str, Path]:
    """Each package's .deb in `cache_dir` (downloaded unless `offline`), checked by SHA-256.
    `mirror` replaces `http://deb.debian.org` in the locked URLs (e.g. a snapshot mirror)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for package in packages:
        path = cache_dir / package.file_name
        if not (path.is_file() and _sha256(path.read_bytes()) == package.sha256_hex):
            if offline:
                raise DebianPackageError(
                    f"{package.name} {package.version} is not in the package cache {cache_dir} "
                    "and this build is offline: run scripts/build-vm-image.sh --fetch once "
                    "with network access.")
            _download(package, path, mirror)
        paths[package.name] = path
    return paths


def _download(package: LockedPackage, path: Path, mirror: str | None) -> None:
    url = package.url.replace("http://deb.debian.org", mirror.rstrip("/")) if mirror else \
        package.url
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        raise DebianPackageError(
            f"The pinned {package.name} {package.version} is no longer on the mirror "
            f"({url}: HTTP {exc.code}). Point COCOON_VM_DEBIAN_MIRROR at a snapshot "
            "(https://snapshot.debian.org/archive/debian/<date>) or update the lock with "
            "scripts/build-vm-image.sh --lock.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DebianPackageError(f"Cannot download {package.name} from {url}: {exc}. "
                                 "Check the network connection.") from None
    if _sha256(data) != package.sha256_hex:
        raise DebianPackageError(f"{package.name} {package.version} from {url} does not match "
                                 "its SHA-256 in the lock: the mirror served another file.")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The data.tar of a .deb (an `ar` archive), opened for reading."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise DebianPackageError(f"{deb} is not a Debian package.")
    offset = 8
    while offset + 60 <= len(blob):
        header = blob[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".xz"):
                body = lzma.decompress(body)
            elif name.endswith(".zst"):
                raise DebianPackageError(f"{deb} uses zstd, which this builder cannot unpack.")
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        offset += 60 + size + (size & 1)
    raise DebianPackageError(f"{deb} has no data.tar.")


def merged_path(member_name: str) -> str:
    """The path under merged /usr (`./lib/x` -> `usr/lib/x`)."""
    path = member_name.removeprefix("./").lstrip("/")
    top = path.split("/", 1)[0]
    return f"usr/{path}" if top in MERGED_DIRS else path


def extract(deb: Path, root: Path, keep: Callable[[str], bool] = lambda _p: True) -> list[str]:
    """Unpack `deb` under `root` (merged /usr, no docs); returns the paths written."""
    written = []
    with deb_data_tar(deb) as tar:
        for member in tar.getmembers():
            path = merged_path(member.name)
            if path in ("", ".") or path.startswith(SKIPPED_PREFIXES) or not keep(path):
                continue
            if ".." in path.split("/"):
                raise DebianPackageError(f"{deb} holds an unsafe path {member.name!r}.")
            _extract_member(tar, member, root, path)
            written.append(path)
    return written


def inside(tree: Path, relative: str) -> Path:
    """`tree / relative`, refused unless it stays inside `tree` with symlinks resolved and is
    no symlink itself: a file of the image must never be written over a file of the host."""
    target = tree / relative
    if Path(relative).is_absolute() or ".." in Path(relative).parts or target.is_symlink() \
            or not target.parent.resolve().is_relative_to(tree.resolve()):
        raise DebianPackageError(f"Refusing to write {target}: it is not inside {tree}.")
    return target


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path,
                    path: str) -> None:
    try:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DebianPackageError(f"{path} lies under a link or a file, not a folder.") from None
    if (root / path).is_symlink():
        (root / path).unlink()
    target = inside(root, path)
    if member.isdir():
        target.mkdir(exist_ok=True)
        target.chmod(member.mode & 0o7777)
        return
    if target.exists():
        target.unlink()
    if member.issym():
        os.symlink(_relative_link(path, member.linkname), target)
    elif member.islnk():
        os.link(inside(root, merged_path(member.linkname)), target, follow_symlinks=False)
    elif member.isfile():
        source = tar.extractfile(member)
        assert source is not None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(source.read())
        target.chmod(member.mode & 0o7777)


def _relative_link(path: str, link: str) -> str:
    """An absolute link target made relative to the link's folder, so that it points to the
    same file in the guest and never leads out of the tree on the build host."""
    if not link.startswith("/"):
        return link
    return os.path.relpath(merged_path(link), os.path.dirname(path) or ".")


def make_merged_usr_links(root: Path) -> None:
    """`bin -> usr/bin` and the like, as Debian 12 lays out its root."""
    for name in MERGED_DIRS:
        (root / "usr" / name).mkdir(parents=True, exist_ok=True)
        link = root / name
        if not link.is_symlink():
            os.symlink(f"usr/{name}", link)

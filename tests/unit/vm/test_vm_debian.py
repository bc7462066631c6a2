"""The image's Debian side: the lock, the download cache, extraction that stays in its tree."""

from __future__ import annotations

import hashlib
import http.server
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cocoon_desktop.vm import debian
from cocoon_desktop.vm.debian import DebianPackageError, LockedPackage
from tests.helpers.fake_deb import make_deb, tar_member


def test_lock_round_trip_and_a_bad_line_names_its_place(tmp_path: Path) -> None:
    pkg = LockedPackage("libc6", "2.36-9", "a" * 64, 10, "http://deb.debian.org/x.deb")
    debian.write_lock(tmp_path / "debian.lock", [pkg])
    assert debian.read_lock(tmp_path / "debian.lock") == (pkg,)
    (tmp_path / "bad.lock").write_text("# header\nlibc6 2.36\n")
    with pytest.raises(DebianPackageError, match=r"bad.lock:2 .*--lock"):
        debian.read_lock(tmp_path / "bad.lock")


def test_spec_reads_wanted_and_excluded(tmp_path: Path) -> None:
    (tmp_path / "packages.txt").write_text("python3.11-minimal  # the interpreter\n!perl-base\n")
    spec = debian.PackageSpec.read(tmp_path / "packages.txt")
    assert spec.wanted == ("python3.11-minimal",)
    assert spec.excluded == frozenset({"perl-base"})


def test_resolve_follows_first_alternatives_and_skips_exclusions() -> None:
    shows = {
        "app": "Version: 1\nDepends: libfoo (>= 2), media-types | mime-support, perl-base\n",
        "libfoo": "Version: 2\nPre-Depends: libc6\n",
        "media-types": "Version: 10\n",
        "libc6": "Version: 2.36\n",
    }

    def run(argv: list[str]) -> str:
        if argv[0] == "apt-cache":
            return shows[argv[-1]]
        return "".join(f"'http://deb.debian.org/debian/pool/{s.split('=')[0]}.deb' "
                        f"{s.split('=')[0]}_{s.split('=')[1]}_amd64.deb 5 SHA256:{'b' * 64}\n"
                        for s in argv[3:])

    locked = debian.resolve_lock(debian.PackageSpec(("app",), frozenset({"perl-base"})), run)
    assert sorted((p.name, p.version) for p in locked) == [
        ("app", "1"), ("libc6", "2.36"), ("libfoo", "2"), ("media-types", "10")]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a folder (no network)."""
    root = tmp_path / "mirror"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def test_fetch_checks_hashes_names_missing_versions_and_works_offline_from_cache(
        tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, root = mirror
    (root / "good.deb").write_bytes(b"good")
    good = LockedPackage("good", "1.0", hashlib.sha256(b"good").hexdigest(), 4,
                         f"{url}/good.deb")
    gone = LockedPackage("gone", "2.0-1", "c" * 64, 4, f"{url}/gone.deb")
    cache = tmp_path / "debs"
    assert debian.fetch([good], cache, offline=False)["good"].read_bytes() == b"good"
    assert debian.fetch([good], cache, offline=True)["good"].read_bytes() == b"good"
    with pytest.raises(DebianPackageError, match=r"pinned gone 2\.0-1 is no longer on the "
                       r"mirror .*HTTP 404.*COCOON_VM_DEBIAN_MIRROR"):
        debian.fetch([gone], cache, offline=False)
    with pytest.raises(DebianPackageError, match=r"gone 2\.0-1 is not in the package cache"
                       r".*--fetch"):
        debian.fetch([gone], cache, offline=True)
    (root / "evil.deb").write_bytes(b"evil")
    swapped = LockedPackage("evil", "1", hashlib.sha256(b"nice").hexdigest(), 4,
                            f"{url}/evil.deb")
    with pytest.raises(DebianPackageError, match="does not match its SHA-256"):
        debian.fetch([swapped], cache, offline=False)


def test_extract_merges_usr_skips_docs_and_keeps_absolute_links_inside(tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "p.deb", [
        tar_member("./lib/", kind=tarfile.DIRTYPE, mode=0o755),
        tar_member("./lib/x86_64-linux-gnu/libz.so.1", b"ELF", mode=0o644),
        tar_member("./lib64/ld.so", kind=tarfile.SYMTYPE, link="/lib/x86_64-linux-gnu/libz.so.1"),
        tar_member("./usr/share/doc/p/copyright", b"text"),
        tar_member("./usr/bin/tool", b"#!", mode=0o755),
    ])
    root = tmp_path / "root"
    written = debian.extract(deb, root)
    debian.make_merged_usr_links(root)
    assert (root / "usr/lib/x86_64-linux-gnu/libz.so.1").read_bytes() == b"ELF"
    assert os.readlink(root / "usr/lib64/ld.so") == "../lib/x86_64-linux-gnu/libz.so.1"
    assert (root / "lib64/ld.so").resolve() == (root / "usr/lib/x86_64-linux-gnu/libz.so.1")
    assert not (root / "usr/share/doc").exists()
    assert "usr/share/doc/p/copyright" not in written
    assert os.access(root / "usr/bin/tool", os.X_OK)
    assert os.readlink(root / "bin") == "usr/bin"


def test_extract_never_writes_outside_its_tree(tmp_path: Path) -> None:
    """A link to a host folder, then a file "under" it: refused, the host file untouched
    (a build once truncated the host's dynamic loader this way)."""
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "libc.so.6").write_bytes(b"host libc")
    escaping = "../" * len((tmp_path / "root/usr/lib").parts) + str(outside).lstrip("/")
    for n, link in enumerate((str(outside), escaping)):
        deb = make_deb(tmp_path / f"p{n}.deb", [
            tar_member("./usr/lib/evil", kind=tarfile.SYMTYPE, link=link),
            tar_member("./usr/lib/evil/libc.so.6", b"overwritten"),
        ])
        with pytest.raises(DebianPackageError, match=r"not inside|not a folder"):
            debian.extract(deb, tmp_path / f"root{n}")
        assert (outside / "libc.so.6").read_bytes() == b"host libc"
    with pytest.raises(DebianPackageError, match="unsafe path"):
        debian.extract(make_deb(tmp_path / "q.deb", [tar_member("./../x", b"1")]),
                       tmp_path / "root2")


def test_inside_refuses_symlinks_absolute_and_parent_paths(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to("/etc/passwd")
    for bad in ("link", "/etc/passwd", "../x"):
        with pytest.raises(DebianPackageError):
            debian.inside(tree, bad)
    assert debian.inside(tree, "a/b") == tree / "a/b"

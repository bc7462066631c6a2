"""The `Depends:` line of the .deb, worked out from the frozen bundle itself.

    python installers/linux/debian_depends.py BUNDLE_DIR

PyInstaller copies most shared libraries into the bundle (Qt's xcb helpers, fontconfig, GLib...)
but leaves the ones that must match the machine: the C library, OpenGL/EGL (tied to the GPU
driver), libxcb and Wayland's client libraries. This asks the dynamic loader (`ldd`, with the
bundle's folders first, as the app's launcher arranges) which libraries every ELF file in the
bundle would load from the system, asks dpkg which packages own them, and adds what is read at
run time without being linked. A library that resolves nowhere stops the build, because an
installed app would then fail to start.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Read at run time without being linked: the bundled fontconfig needs the system's font setup
# (this package also pulls in a font).
RUNTIME_PACKAGES = ("fontconfig-config",)
# Plugins that may legitimately miss a library on the build machine (none are expected).
OPTIONAL_ELF_PARTS: tuple[str, ...] = ()
_GLIBC = re.compile(rb"GLIBC_2\.(\d+)")
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+|not found)")


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as file:
                if file.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def library_dirs(bundle: Path, elves: list[Path]) -> list[Path]:
    return sorted({p.parent for p in elves if ".so" in p.name})


def system_libraries(bundle: Path) -> set[Path]:
    """Paths outside the bundle that the dynamic loader would pick for the bundle's files."""
    elves = elf_files(bundle)
    env = {"LD_LIBRARY_PATH": ":".join(str(d) for d in library_dirs(bundle, elves)),
           "PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    outside: set[Path] = set()
    missing: list[str] = []
    for elf in elves:
        result = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env,
                                check=False)
        for line in result.stdout.splitlines():
            match = _LDD_LINE.match(line)
            if not match:
                continue
            name, where = match.groups()
            if where == "not found":
                if not any(part in str(elf) for part in OPTIONAL_ELF_PARTS):
                    missing.append(f"{elf.relative_to(bundle)} needs {name}")
            elif not Path(where).resolve().is_relative_to(bundle.resolve()):
                outside.add(Path(where))
    if missing:
        raise SystemExit("libraries found neither in the bundle nor on this machine:\n  "
                         + "\n  ".join(sorted(set(missing))))
    return outside


def owning_package(path: Path) -> str:
    """The Debian package that installed `path` (trying the /usr-merged spellings too)."""
    real = path.resolve()
    candidates = [path, real]
    for candidate in list(candidates):
        text = str(candidate)
        candidates.append(Path(text.removeprefix("/usr")) if text.startswith("/usr/")
                          else Path("/usr" + text))
    for candidate in candidates:
        result = subprocess.run(["dpkg-query", "-S", str(candidate)], capture_output=True,
                                text=True, check=False)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    raise SystemExit(f"no installed package owns {path}: install it from a Debian package")


def glibc_floor(bundle: Path) -> int:
    """The newest GLIBC_2.x symbol version any bundled file asks for (x)."""
    versions = [int(m) for elf in elf_files(bundle)
                for m in _GLIBC.findall(elf.read_bytes())]
    return max(versions, default=17)


def depends_line(bundle: Path) -> str:
    packages = {owning_package(p) for p in system_libraries(bundle)} | set(RUNTIME_PACKAGES)
    packages.discard("libc6")
    return ", ".join([f"libc6 (>= 2.{glibc_floor(bundle)})", *sorted(packages)])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python installers/linux/debian_depends.py BUNDLE_DIR")
    print(depends_line(Path(sys.argv[1])))

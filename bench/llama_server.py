"""The baseline for bench/concurrency.py: llama.cpp's own `llama-server`, built once and cached.

It is built from the llama.cpp source that the llama-cpp-python source package vendors (the
same version the engine links), with the engine's CMake flags (`-DGGML_NATIVE=OFF`), under
~/.cache/cocoon-bench so a rerun starts at once.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

CACHE = Path(os.environ.get("COCOON_BENCH_CACHE", Path.home() / ".cache" / "cocoon-bench"))
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DLLAMA_CURL=OFF",
               "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
               "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TOOLS=ON"]


def llama_cpp_python_version() -> str:
    return importlib.metadata.version("llama-cpp-python")


def ensure_llama_server() -> Path:
    """Path of a cached `llama-server`; downloads the sdist and builds it the first time."""
    version = llama_cpp_python_version()
    build = CACHE / f"build-llama-server-{version}"
    binary = build / "bin" / "llama-server"
    if binary.is_file():
        return binary
    source = _vendored_source(version)
    generator = ["-G", "Ninja"] if _has("ninja") else []
    print(f"building llama-server {version} once into {build} (several minutes) ...", flush=True)
    _run(["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS],
         CACHE / "cmake.log")
    _run(["cmake", "--build", str(build), "--target", "llama-server", "-j",
          str(os.cpu_count() or 2)], CACHE / "build.log")
    return binary


def _vendored_source(version: str) -> Path:
    tree = CACHE / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if tree.is_dir():
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"llama_cpp_python-{version}.tar.gz"
    if not archive.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}",
                        "--no-deps", "--no-binary", ":all:", "-d", str(CACHE)], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return tree


def _has(tool: str) -> bool:
    return any((Path(d) / tool).is_file() for d in os.environ.get("PATH", "").split(os.pathsep))


def _run(command: list[str], log_path: Path) -> None:
    with log_path.open("w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed; see {log_path}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """A running `llama-server --parallel N` on loopback."""

    def __init__(self, binary: Path, model: Path, *, parallel: int, context_tokens: int,
                 threads: int, extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = (CACHE / "llama-server.log").open("w")
        self._process = subprocess.Popen(
            [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(self.port),
             "-t", str(threads), "-c", str(context_tokens), "--parallel", str(parallel),
             "--no-webui", *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SystemExit(f"llama-server exited; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("llama-server did not become ready in 120 s")

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()

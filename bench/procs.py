"""Processes of the benchmark: started pinned to a core, watched, measured and stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SUT_CORE = "0"  # the system under test
LOAD_CORE = "1"  # load generators and upstreams


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, limit: float = 30.0) -> float:
    """Waits until something accepts connections on port; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic() - started
        time.sleep(0.01)
    raise TimeoutError(f"nothing listens on {port} after {limit}s")


@dataclass(eq=False)
class Proc:
    """A started process and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        """Resident memory of the process and its children (Envoy under `llm-gateway up`)."""
        total = 0
        for process in self.tree():
            with suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process and its children so far."""
        total = 0.0
        for process in self.tree():
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds so far of each process of the tree, by process name."""
        out: dict[str, float] = {}
        for process in self.tree():
            with suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                out[process.name()] = out.get(process.name(), 0.0) + times.user + times.system
        return out

    def signal_group(self, sig: signal.Signals) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def wait_quiet(self, limit: float = 30.0) -> None:
        """Waits until the process tree is nearly idle (a backlog from the last step is done)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.25)
            if self.cpu_seconds() - before < 0.025:
                return

    def stop(self, grace: float = 10.0) -> None:
        SUT_PROCS.discard(self)
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


# Systems under test that are running: all but the one being measured are paused (SIGSTOP),
# so that no other system's background or backlog work shares its core.
SUT_PROCS: set[Proc] = set()


@contextmanager
def focus(proc: Proc | None) -> Iterator[None]:
    """Pauses every other system under test while the body measures `proc`."""
    others = [p for p in SUT_PROCS if p is not proc]
    for other in others:
        other.signal_group(signal.SIGSTOP)
    try:
        if proc is not None:
            proc.wait_quiet()
        yield
    finally:
        for other in others:
            other.signal_group(signal.SIGCONT)


def start(
    name: str, command: Sequence[str], core: str, logs: Path, env: dict[str, str] | None = None
) -> Proc:
    """Starts command pinned to core, in its own process group, logging to logs/name.log.

    The process stays in the benchmark's session. Linux's scheduler shares a core between
    sessions (autogroups), so a session per system would change how the systems under test and
    the load generators share their cores; all of them stay in one session here.
    """
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    popen = subprocess.Popen(
        ["taskset", "-c", core, *command],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        process_group=0,
        env={**os.environ, **(env or {})},
    )
    proc = Proc(name, popen, log)
    if core == SUT_CORE:
        SUT_PROCS.add(proc)
    return proc

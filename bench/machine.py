"""The machine a run happened on, for the pages that report runs (benchmarks, reliability)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def version(command: list[str]) -> str:
    """The first line a tool prints about its version ("missing" when it is not there)."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def describe_machine() -> dict[str, str]:
    """Date, CPU and cores this process may use, memory, kernel, Python and Envoy."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {len(os.sched_getaffinity(0))} cores",
        "memory": memory,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "envoy": version([str(BIN / "envoy"), "--version"]).split("version: ")[-1],
    }

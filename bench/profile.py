"""Where the CPU of one request and of one streamed token goes, by stage (`make profile`).

    .venv/bin/python -m bench.profile --out docs

Starts the upstreams and the gateway as `make bench` does (the gateway stack on its core, load
and upstreams on the other), then for each scenario records the gateway's Python process with
py-spy (a sampling profiler; `--native` so that time in grpc's and uvloop's C code is seen)
while the load runs, and reads the CPU time of Envoy and of the gateway over the same window:

- `unary`: wrk, 10 connections, non-streamed chat completions;
- `stream`: 1,000 held streams at 5 tokens/s (the window where all are open);
- `realistic`: the unary load on the configuration a real deployment runs (metrics, usage on
  SQLite, prices, a virtual key with rpm/tpm limits and a budget).

The CPU per unit is measured first without the profiler (which slows the process), then the
load is run again under it. Each sample is given to the stage its innermost recognised frame
belongs to (`STAGES`, first match from the innermost frame out); the Python process's CPU per
request or token is split in the samples' proportions, and Envoy's is its own row. Writes a
flame graph per scenario (`profile-<scenario>.svg`) and the table (`profile.md`) to `--out`.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.load import wrk
from bench.machine import describe_machine
from bench.procs import Proc
from bench.systems import (
    BIN,
    CHAT_BODY,
    first_success,
    gateway_systems,
    start_gateway,
    start_realistic_gateway,
    start_upstreams,
)

# (stage, substrings of a frame that put a sample in it), tried from the innermost frame out;
# system calls (libc) are not a stage of their own: they go to whoever made them.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("validation", ("llm_gateway/model/validat", "fastjsonschema")),
    ("auth", ("llm_gateway/auth/",)),
    ("limits", ("llm_gateway/limits/",)),
    ("routing", ("llm_gateway/routing/",)),
    ("metrics and traces", ("llm_gateway/telemetry/", "prometheus_client", "opentelemetry")),
    ("logs", ("logging/", "llm_gateway/dataplane/accounting")),
    ("usage", ("llm_gateway/usage/",)),
    (
        "upstream client (aiohttp, SSE)",
        ("aiohttp/", "llm_gateway/providers/", "yarl/", "multidict"),
    ),
    (
        "REST framing and encoding",
        (
            "llm_gateway/api/rest/",
            "llm_gateway/api/anthropic/",
            "llm_gateway/api/gemini/",
            "orjson",
        ),
    ),
    ("gRPC API conversions", ("llm_gateway/api/grpc/",)),
    ("data plane", ("llm_gateway/dataplane/", "llm_gateway/model/")),
    ("grpc.aio (Python and Cython)", ("grpc/aio/", "grpc/_cython", "cygrpc")),
    ("garbage collection", ("gc_collect",)),
    (
        "event loop (uvloop)",
        ("uvloop", "loop.c", "core.c", "asyncio/", "Runner.run"),
    ),
    ("threads (grpc's poller, the store's)", ("threading.py",)),
)
OTHER = "other"
ENVOY = "Envoy"  # its own process, not a stage of the gateway's samples
# The stages that carry calls rather than handle them: the rest is the gateway's own code.
TRANSPORT = frozenset(
    {
        ENVOY,
        OTHER,
        "grpc.aio (Python and Cython)",
        "upstream client (aiohttp, SSE)",
        "event loop (uvloop)",
        "garbage collection",
        "threads (grpc's poller, the store's)",
    }
)
assert not TRANSPORT - {stage for stage, _ in STAGES} - {ENVOY, OTHER}, "a stage was renamed"
# Innermost frames of a thread that waits (py-spy's --native mode samples waiting threads too:
# grpc's poller in epoll_wait, executor workers on their queue, the metrics server in select):
# such samples are not CPU and are left out of the split.
WAITING = (
    "epoll_wait",
    "epoll_pwait",
    "select (",
    "poll (",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "PyThread_acquire_lock_timed",
    "sem_wait",
    "sem_timedwait",
    "nanosleep",
)


def stage_of(frames: list[str]) -> str:
    """The stage of one sample's stack (outermost frame first)."""
    for frame in reversed(frames):
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                return stage
    return OTHER


def split(raw: Path) -> Counter[str]:
    """Samples per stage of py-spy's raw output (`stack count` lines), waiting ones left out."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        # The waiting call is the innermost named frame, under at most two of libc's.
        if stack and not any(mark in frame for frame in frames[-3:] for mark in WAITING):
            counts[stage_of(frames)] += int(count)
    return counts


def _record(pid: int, seconds: float, raw: Path, svg: Path) -> list[subprocess.Popen[bytes]]:
    """Two recorders of the same window: raw stacks for the split, and the flame graph."""
    command = [
        str(BIN / "py-spy"),
        "record",
        "--native",
        "-p",
        str(pid),
        "-r",
        "100",
        "-d",
        str(int(seconds)),
    ]
    return [
        subprocess.Popen(
            [*command, "-f", kind, "-o", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for kind, path in (("raw", raw), ("flamegraph", svg))
    ]


def _wait(recorders: list[subprocess.Popen[bytes]]) -> None:
    for recorder in recorders:
        recorder.wait()


def _python_pid(proc: Proc) -> int:
    return next(p.pid for p in proc.tree() if p.name() != "envoy")


def _unary(rest: Any, proc: Proc, out: Path, seconds: float, name: str) -> dict[str, Any]:
    """CPU per request measured alone, then the same load again under the profiler (which
    slows the process: its samples give the shares, not the time)."""
    raw, svg = out / f"profile-{name}.txt", out / f"profile-{name}.svg"

    def load() -> int:
        target = rest.target
        return wrk(
            target.address, connections=10, duration=seconds, body=CHAT_BODY, key=target.key
        ).count

    cpu = _cpu_per_unit(proc, load)
    proc.wait_quiet()
    recorders = _record(_python_pid(proc), seconds - 1, raw, svg)
    load()
    _wait(recorders)
    return {"unit": "request", "cpu_us": cpu, "raw": raw}


def _stream(rest: Any, proc: Proc, out: Path, streams: int) -> dict[str, Any]:
    """CPU per token in the window where every stream is open (as `make bench` reads it),
    then the streams again under the profiler, recording inside that window."""
    raw, svg = out / "profile-stream.txt", out / "profile-stream.svg"
    proc.wait_quiet()
    python = next(p for p in proc.tree() if p.name() != "envoy")
    before = proc.cpu_by_process()
    held = scenarios.held_streams(rest, streams, proc)
    after = proc.cpu_by_process()
    # The whole run's split between the processes, applied to the window's CPU per token.
    total = sum(after[n] - before.get(n, 0.0) for n in after) or 1.0
    per_token = float(held["cpu_us_per_token"])
    cpu = {n: (after[n] - before.get(n, 0.0)) / total * per_token for n in after}
    proc.wait_quiet()

    def record_in_window() -> None:
        time.sleep(2.5)  # the ramp
        _wait(_record(python.pid, scenarios.HOLD_WINDOW_SECONDS, raw, svg))

    recorder = threading.Thread(target=record_in_window)
    recorder.start()
    scenarios.held_streams(rest, streams, proc)
    recorder.join()
    return {"unit": "token", "cpu_us": cpu, "raw": raw}


def _cpu_per_unit(proc: Proc, load: Any) -> dict[str, float]:
    proc.wait_quiet()
    before = proc.cpu_by_process()
    count = max(1, load())
    after = proc.cpu_by_process()
    return {name: (after[name] - before.get(name, 0.0)) / count * 1e6 for name in after}


# How the tables are made, for the pages that carry them.
METHOD = (
    "py-spy `--native` on the gateway's Python process while the load runs, its samples (those "
    "of threads waiting left out) split by stage (innermost recognised frame), the process's "
    "CPU per unit split in those proportions; Envoy's CPU is its own row. Flame graphs: "
    "`profile-unary.svg`, `profile-stream.svg`, `profile-realistic.svg`. The CPU per unit is "
    "measured without the profiler attached (it slows the process)."
)


def _by_stage(result: dict[str, Any]) -> tuple[list[tuple[str, float]], float, float]:
    """One scenario's share of the gateway's samples by stage (largest first), and the
    gateway's and Envoy's CPU per unit; `result["counts"]` is its split, made once."""
    counts: Counter[str] = result["counts"]
    total = sum(counts.values()) or 1
    shares = [(stage, count / total) for stage, count in counts.most_common()]
    python_us = sum(v for k, v in result["cpu_us"].items() if k != "envoy")
    return shares, python_us, result["cpu_us"].get("envoy", 0.0)


def stage_costs(result: dict[str, Any]) -> list[tuple[str, float]]:
    """The CPU of one scenario's unit by stage, largest first, Envoy's included."""
    shares, python_us, envoy_us = _by_stage(result)
    costs = [(stage, share * python_us) for stage, share in shares] + [(ENVOY, envoy_us)]
    return sorted(costs, key=lambda item: -item[1])


def stage_tables(results: dict[str, dict[str, Any]]) -> str:
    """One table per scenario, each under a `##` heading."""
    lines: list[str] = []
    for scenario, result in results.items():
        shares, python_us, envoy_us = _by_stage(result)
        lines += [
            f"## {scenario}: {python_us + envoy_us:.0f} us per {result['unit']} "
            f"(Envoy {envoy_us:.0f}, gateway {python_us:.0f})",
            "",
            f"| stage | share of the gateway's samples | us per {result['unit']} |",
            "|---|---|---|",
            f"| Envoy (its own process) | - | {envoy_us:.1f} |",
        ]
        for stage, share in shares:
            lines.append(f"| {stage} | {share:.1%} | {share * python_us:.1f} |")
        lines.append("")
    return "\n".join(lines)


def _realistic(upstreams: Any, work: Path, out: Path, seconds: float) -> dict[str, Any]:
    """The unary scenario on the configuration a real deployment runs (bench.systems)."""
    proc, rest = start_realistic_gateway(upstreams, work, name="profiled-gateway-realistic")
    try:
        return _unary(rest, proc, out, seconds, "realistic")
    finally:
        proc.stop()


def measure(
    upstreams: Any,
    work: Path,
    out: Path,
    seconds: float = 5.0,
    streams: int = 1000,
) -> tuple[str, dict[str, list[tuple[str, float]]]]:
    """Profiles the three scenarios on the running `upstreams` (gateways of their own); writes
    the flame graphs to `out` and returns the tables (`stage_tables`) and each scenario's CPU
    by stage (`stage_costs`)."""
    out.mkdir(parents=True, exist_ok=True)  # py-spy writes into it
    proc, config = start_gateway(upstreams, work, name="profiled-gateway")
    try:
        rest, _ = gateway_systems(proc, config)
        first_success(rest)
        results = {
            "unary (wrk, c=10)": _unary(rest, proc, out, seconds, "unary"),
            f"stream ({streams} held streams)": _stream(rest, proc, out, streams),
        }
    finally:
        proc.stop()
    results["unary, realistic configuration (wrk, c=10)"] = _realistic(
        upstreams, work, out, seconds
    )
    time.sleep(0.1)
    try:
        for result in results.values():
            result["counts"] = split(result["raw"])
        costs = {scenario: stage_costs(result) for scenario, result in results.items()}
        return stage_tables(results), costs
    finally:
        for result in results.values():
            result["raw"].unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llm-gateway-profile-") as folder:
        work = Path(folder)
        upstreams = start_upstreams(work)
        try:
            tables, _ = measure(upstreams, work, args.out, args.seconds, args.streams)
        finally:
            upstreams.stop()
    report = page(tables, "`make profile` (`bench/profile.py`)")
    (args.out / "profile.md").write_text(report)
    print(report)


def page(tables: str, writer: str) -> str:
    """`profile.md`: the tables (`##` headings) with how and where they were measured; `make
    bench` writes it too, so that it always goes with the flame graphs beside it."""
    machine = ", ".join(f"{k}: {v}" for k, v in describe_machine().items())
    return "\n".join(
        [
            "# Where the CPU goes",
            "",
            f"Written by {writer}: {METHOD}",
            "",
            f"Machine: {machine}.",
            "",
            tables,
        ]
    )


if __name__ == "__main__":
    main()

"""Instructions per request, counted by valgrind's callgrind: a figure this shared machine's
speed does not move (the same build measures the same to about 0.3%), for A/B runs.

    .venv/bin/python -m bench.instructions [--requests 1000]

Counts user-space instructions only: the kernel's share of a request (system calls, the
network) is not in them, and an instruction is not a fixed time. They guard the code's own
cost; the CPU figures of `make bench` say what a request costs.

Two counts, each of one process under callgrind while the other runs natively:
- the gateway's Python process (all its threads), under `llm-gateway up`;
- Envoy (one worker), in front of a gateway started with `llm-gateway serve`.

Each is counted over `requests` non-streamed chat completions through Envoy's REST listener,
10 at a time, after a warm-up, with instrumentation switched on and off around them
(`callgrind_control`), so that start-up and shutdown are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import KEY
from bench.procs import SUT_CORE, Proc, start
from bench.systems import (
    BIN,
    CHAT_BODY,
    Upstreams,
    first_success,
    gateway_config,
    gateway_systems,
    start_upstreams,
)

WARM_UP = 200
CALLERS = 10


async def _post(url: str, count: int) -> None:
    """`count` chat completions from `CALLERS` callers in a loop; each must succeed."""
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    async with aiohttp.ClientSession() as session:

        async def caller(requests: int) -> None:
            for _ in range(requests):
                async with session.post(url, data=CHAT_BODY, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: {response.status}")

        await asyncio.gather(*(caller(count // CALLERS) for _ in range(CALLERS)))


def _count(proc: Proc, config: dict[str, Any], requests: int, dump: Path) -> float:
    """Instructions of the callgrind-run `proc` per request over `requests` requests."""
    rest, _ = gateway_systems(proc, config)
    first_success(rest, limit=300.0)  # under callgrind a start takes seconds
    url = rest.target.address
    asyncio.run(_post(url, WARM_UP))
    control = ["callgrind_control"]
    subprocess.run([*control, "--instr=on", str(proc.popen.pid)], check=True, capture_output=True)
    asyncio.run(_post(url, requests))
    # The dump holds what was counted since instrumentation went on (part 1 of the output).
    subprocess.run([*control, "--dump", str(proc.popen.pid)], check=True, capture_output=True)
    subprocess.run([*control, "--instr=off", str(proc.popen.pid)], check=True, capture_output=True)
    summary = next(
        line for line in Path(f"{dump}.1").read_text().splitlines() if line.startswith("summary:")
    )
    return int(summary.split()[1]) / requests


def _callgrind(dump: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dump}"]


def _envoy_binary(bin_dir: Path) -> str:
    """The Envoy executable of an installation (its `envoy` command is a Python launcher)."""
    found = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import envoy, pathlib; print(pathlib.Path(envoy.__file__).parent / '_bin' / 'envoy')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def gateway_instructions(bin_dir: Path, upstreams: Upstreams, work: Path, requests: int) -> float:
    """The gateway's Python process (under `llm-gateway up`) per request."""
    path, config = gateway_config(upstreams, work)
    dump = work / "gateway.callgrind"
    command = [*_callgrind(dump), str(bin_dir / "python"), "-m", "llm_gateway", "up"]
    proc = start("gateway-callgrind", [*command, "--config", str(path)], SUT_CORE, work / "logs")
    try:
        return _count(proc, config, requests, dump)
    finally:
        proc.stop(60)


def envoy_instructions(bin_dir: Path, upstreams: Upstreams, work: Path, requests: int) -> float:
    """Envoy, as `llm-gateway up` configures it but with one worker, per request."""
    path, config = gateway_config(upstreams, work)
    gateway = start(
        "gateway-serve", [str(bin_dir / "llm-gateway"), "serve", "--config", str(path)], "1", work
    )
    rendered = work / "envoy.yaml"
    rendered.write_text(
        subprocess.run(
            [str(bin_dir / "llm-gateway"), "envoy-config", "--config", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    dump = work / "envoy.callgrind"
    envoy = [_envoy_binary(bin_dir), "-c", str(rendered), "--disable-hot-restart"]
    options = ["--concurrency", "1", "--log-level", "warn", "--base-id", str(gateway.popen.pid)]
    proc = start("envoy-callgrind", [*_callgrind(dump), *envoy, *options], SUT_CORE, work / "logs")
    try:
        return _count(proc, config, requests, dump)
    finally:
        proc.stop(60)
        gateway.stop()


def measure(bin_dir: Path, upstreams: Upstreams, work: Path, requests: int) -> dict[str, float]:
    """Both counts of one installation."""
    folders = work / "gateway", work / "envoy"
    for folder in folders:
        folder.mkdir(parents=True)
    return {
        "gateway_instructions": gateway_instructions(bin_dir, upstreams, folders[0], requests),
        "envoy_instructions": envoy_instructions(bin_dir, upstreams, folders[1], requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-instructions-") as folder:
        work = Path(folder)
        upstreams = start_upstreams(work)
        try:
            counts = measure(BIN, upstreams, work / "this", args.requests)
        finally:
            upstreams.stop()
    json.dump({k: round(v) for k, v in counts.items()}, sys.stdout)
    print()


if __name__ == "__main__":
    main()

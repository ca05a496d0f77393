"""Streams from the real local model (llama-server with SmolLM2, run by the gateway) directly
and through the gateway (REST through Envoy), and compares generated tokens per second: the
gateway must not cost more than 2% of the server's throughput.

`python -m bench.local_model` runs it alone and prints the result; `make bench` (bench.run)
runs it as one of its scenarios, in two layouts: the gateway on a core of its own (as every
other scenario here isolates the system under test), and everything sharing both cores.
Every request generates exactly `TOKENS` tokens (`ignore_eos`), so each round does the same
work; the two paths alternate within each round, and the cost is the median of the rounds'
gateway/direct ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import requests
import yaml

from bench.load import KEY
from bench.procs import Proc, free_port, start
from bench.systems import BIN

MODEL = "smollm2"
TOKENS = 200
CONCURRENCY = (1, 4)  # one caller, and as many as the server has slots
BUDGET = 2.0  # percent of the server's throughput the gateway may cost
BODY = {
    "model": MODEL,
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_tokens": TOKENS,
    "ignore_eos": True,
    "temperature": 0,
    "messages": [{"role": "user", "content": "Tell me about the sea."}],
}


def start_stack(work: Path, **server: Any) -> tuple[Proc, str, str]:
    """The gateway with only a `local` provider, on both cores (llama-server runs 2 threads);
    `server` adds to its `server` settings."""
    server_port, rest = free_port(), f"127.0.0.1:{free_port()}"
    config = {
        "listen": {"rest": rest, "grpc": f"127.0.0.1:{free_port()}"},
        "providers": {
            "local": {
                "type": "local",
                "server": {"port": server_port, "slots": 4, "threads": 2, **server},
            }
        },
        "models": {MODEL: {"provider": "local", "model": "smollm2-135m-instruct"}},
        "keys": [{"name": "bench", "key": KEY}],
    }
    work.mkdir(parents=True, exist_ok=True)
    path = work / "local-model.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = start(
        "gateway-local-model",
        [str(BIN / "llm-gateway"), "up", "--config", str(path)],
        "0-1",
        work / "logs",
    )
    _wait_ready(f"http://{rest}/v1/models", proc, 1800)  # a first build takes minutes
    return proc, f"http://127.0.0.1:{server_port}/v1", f"http://{rest}/v1"


def _wait_ready(url: str, proc: Proc, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"the stack exited: see {proc.log}")
        try:
            if requests.get(url, headers={"authorization": f"Bearer {KEY}"}, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.stop()
    raise TimeoutError(f"the stack did not answer {url} within {seconds:g} s")


async def _one(session: aiohttp.ClientSession, url: str) -> int:
    """Streams one answer; returns the completion tokens its usage chunk counts."""
    tokens = 0
    async with session.post(
        f"{url}/chat/completions", json=BODY, headers={"authorization": f"Bearer {KEY}"}
    ) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.startswith(b"data: {") and b'"usage":{' in line:
                tokens = int(json.loads(line[6:])["usage"]["completion_tokens"])
    return tokens


async def _round(url: str, concurrency: int) -> float:
    """Generated tokens per second of `concurrency` simultaneous streams."""
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        counts = await asyncio.gather(*(_one(session, url) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if any(count != TOKENS for count in counts):
        raise RuntimeError(f"expected {TOKENS} tokens per stream, got {counts}")
    return sum(counts) / elapsed


@dataclass(frozen=True)
class Layout:
    """Where the processes run."""

    name: str
    description: str
    threads: int
    # Cores of llama-server and of the gateway's processes (Envoy, Python); None: both cores.
    model_cores: set[int] | None
    gateway_cores: set[int] | None


LAYOUTS = (
    Layout(
        "isolated",
        "as in the rest of this benchmark: the gateway and Envoy (the system under test) on "
        "core 0, the model server (1 thread) and the client on core 1",
        1,
        {1},
        {0},
    ),
    Layout(
        "shared",
        "everything on both cores, the model server with 2 threads: the gateway's CPU is "
        "taken from the model's",
        2,
        None,
        None,
    ),
)


def _pin(proc: psutil.Process, cores: set[int]) -> None:
    """Moves every thread of a process to `cores` (threads started later inherit it)."""
    for thread in proc.threads():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(thread.id, cores)


def _measure_layout(work: Path, layout: Layout, rounds: int) -> dict[str, Any]:
    proc, direct, gateway = start_stack(work / layout.name, threads=layout.threads)
    own = os.sched_getaffinity(0)
    try:
        for process in proc.tree():
            cores = layout.model_cores if process.name() == "llama-server" else layout.gateway_cores
            if cores is not None:
                _pin(process, cores)
        if layout.model_cores is not None:
            os.sched_setaffinity(0, layout.model_cores)  # the client: a load generator
        asyncio.run(_round(direct, 1))  # warm both paths: first requests load caches
        asyncio.run(_round(gateway, 1))
        rows = []
        for concurrency in CONCURRENCY:
            samples: dict[str, list[float]] = {"direct": [], "gateway": []}
            for _ in range(rounds):
                for name, url in (("direct", direct), ("gateway", gateway)):
                    samples[name].append(asyncio.run(_round(url, concurrency)))
            # Each round's paths ran back to back: their ratio cancels the machine's drift
            # between rounds (other tenants), which moves single rounds by +-10%.
            ratios = [g / d for d, g in zip(samples["direct"], samples["gateway"], strict=True)]
            rows.append(
                {
                    "concurrency": concurrency,
                    "direct": statistics.median(samples["direct"]),
                    "gateway": statistics.median(samples["gateway"]),
                    "cost_percent": 100 * (1 - statistics.median(ratios)),
                    "samples": samples,
                }
            )
        rss = {p.name(): p.memory_info().rss for p in proc.tree()}
        return {"layout": layout.name, "description": layout.description, "rows": rows,
                "rss": rss}  # fmt: skip
    finally:
        os.sched_setaffinity(0, own)
        proc.stop()


def measure(work: Path, rounds: int = 9) -> dict[str, Any]:
    """Tokens/s direct and through the gateway, per layout and concurrency, medians of
    `rounds`; the budget is judged on the isolated layout."""
    layouts = [_measure_layout(work, layout, rounds) for layout in LAYOUTS]
    return {"tokens": TOKENS, "rounds": rounds, "layouts": layouts, "budget": BUDGET}


def worst_cost(result: dict[str, Any], layout: str = "isolated") -> float:
    """The largest cost, in percent, of a layout's concurrencies."""
    (found,) = [entry for entry in result["layouts"] if entry["layout"] == layout]
    return max(row["cost_percent"] for row in found["rows"])


def section(result: dict[str, Any]) -> list[str]:
    """The report's lines for this scenario."""
    lines = [
        "## Streaming from the real local model",
        "",
        f"llama-server (built by the gateway) with SmolLM2-135M-Instruct, 4 slots; each stream "
        f"generates exactly {result['tokens']} tokens; direct and through the gateway (REST "
        f"through Envoy) alternate within each round; tokens/s are medians of "
        f"{result['rounds']} rounds, the cost is the median of the rounds' gateway/direct "
        f"ratios. The budget ({result['budget']:g}% of the server's tokens/s) is judged on the "
        "isolated layout.",
        "",
        "| layout | concurrent streams | direct tokens/s | through the gateway | gateway's cost |",
        "|---|---|---|---|---|",
    ]
    for entry in result["layouts"]:
        lines += [
            f"| {entry['layout']} | {row['concurrency']} | {row['direct']:.1f} | "
            f"{row['gateway']:.1f} | {row['cost_percent']:+.2f}% |"
            for row in entry["rows"]
        ]
    lines.append("")
    for entry in result["layouts"]:
        resident = ", ".join(f"{n} {rss / 2**20:.0f} MB" for n, rss in entry["rss"].items())
        lines.append(f"- {entry['layout']}: {entry['description']}; resident after: {resident}.")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-bench-local-") as folder:
        result = measure(Path(folder), args.rounds)
    print("\n".join(section(result)))


if __name__ == "__main__":
    main()

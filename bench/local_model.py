"""Streams from the real local model (llama-server with SmolLM2, run by the gateway) directly
and through the gateway (REST through Envoy), and compares generated tokens per second: the
gateway must not cost more than 2% of the server's throughput.

`python -m bench.local_model` runs it alone and prints the result; `make bench` (bench.run)
runs it as one of its scenarios. Every request generates exactly `TOKENS` tokens
(`ignore_eos`), so each round does the same work; rounds alternate between the two paths, and
medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.load import KEY
from bench.procs import Proc, free_port, start, wait_for_port

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


def start_stack(work: Path) -> tuple[Proc, str, str]:
    """The gateway with only a `local` provider, on both cores (llama-server runs 2 threads)."""
    server_port, rest = free_port(), f"127.0.0.1:{free_port()}"
    config = {
        "listen": {"rest": rest, "grpc": f"127.0.0.1:{free_port()}"},
        "providers": {
            "local": {"type": "local", "server": {"port": server_port, "slots": 4, "threads": 2}}
        },
        "models": {MODEL: {"provider": "local", "model": "smollm2-135m-instruct"}},
        "keys": [{"name": "bench", "key": KEY}],
    }
    path = work / "local-model.yaml"
    path.write_text(yaml.safe_dump(config))
    from bench.systems import BIN

    proc = start(
        "gateway-local-model",
        [str(BIN / "llm-gateway"), "up", "--config", str(path)],
        "0-1",
        work / "logs",
    )
    wait_for_port(rest, 1800)  # a first build takes minutes
    return proc, f"http://127.0.0.1:{server_port}/v1", f"http://{rest}/v1"


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


def measure(work: Path, rounds: int = 7) -> dict[str, Any]:
    """Tokens/s direct and through the gateway, per concurrency, medians of `rounds`."""
    proc, direct, gateway = start_stack(work)
    try:
        asyncio.run(_round(direct, 1))  # warm both paths: first requests load caches
        asyncio.run(_round(gateway, 1))
        rows = []
        for concurrency in CONCURRENCY:
            samples: dict[str, list[float]] = {"direct": [], "gateway": []}
            for _ in range(rounds):
                for name, url in (("direct", direct), ("gateway", gateway)):
                    samples[name].append(asyncio.run(_round(url, concurrency)))
            direct_median = statistics.median(samples["direct"])
            gateway_median = statistics.median(samples["gateway"])
            rows.append(
                {
                    "concurrency": concurrency,
                    "direct": direct_median,
                    "gateway": gateway_median,
                    "cost_percent": 100 * (1 - gateway_median / direct_median),
                    "samples": samples,
                }
            )
        tree = {p.name(): p.memory_info().rss for p in proc.tree()}
        return {"tokens": TOKENS, "rounds": rounds, "rows": rows, "rss": tree, "budget": BUDGET}
    finally:
        proc.stop()


def section(result: dict[str, Any]) -> list[str]:
    """The report's lines for this scenario."""
    lines = [
        "## Streaming from the real local model",
        "",
        f"llama-server (built by the gateway) with SmolLM2-135M-Instruct, 4 slots, 2 threads; "
        f"each stream generates exactly {result['tokens']} tokens; direct and through the "
        f"gateway (REST through Envoy) alternate, medians of {result['rounds']} rounds.",
        "",
        "| concurrent streams | direct tokens/s | through the gateway | gateway's cost |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['concurrency']} | {row['direct']:.1f} | {row['gateway']:.1f} | "
        f"{row['cost_percent']:+.2f}% |"
        for row in result["rows"]
    ]
    resident = ", ".join(f"{name} {rss / 2**20:.0f} MB" for name, rss in result["rss"].items())
    lines += ["", f"Resident memory after the run: {resident}.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-bench-local-") as folder:
        result = measure(Path(folder), args.rounds)
    print("\n".join(section(result)))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"} | {
        "rows": [{k: v for k, v in r.items() if k != "samples"} for r in result["rows"]]
    }))  # fmt: skip


if __name__ == "__main__":
    main()

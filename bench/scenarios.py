"""The benchmark's scenarios. Each returns plain data for the report."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict
from typing import Any

from bench.load import KEY, LoadResult, k6, wrk
from bench.procs import Proc, focus
from bench.streams import Client, StreamRun, hold, sequential
from bench.systems import CHAT_BODY, PACED_HOLD, PACED_TTFT, System

HOLD_INTERVAL_MS = 200  # PACED_HOLD's token interval
HOLD_TOKENS = 40
HOLD_WINDOW_SECONDS = 4.0  # inside the 8 s of each stream, after the 2 s ramp


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def latency(systems: list[System], rounds: int, duration: float) -> dict[str, Any]:
    """p50/p99 at concurrency 1 and 10; systems alternate within each round."""
    out: dict[str, Any] = {}
    for concurrency in (1, 10):
        runs: dict[str, list[LoadResult]] = {s.key: [] for s in systems}
        for _ in range(rounds):
            for system in systems:
                with focus(system.proc):
                    runs[system.key].append(k6(system.target, vus=concurrency, duration=duration))
        out[str(concurrency)] = {
            key: {
                "p50": statistics.median(r.p50 for r in results),
                "p99": statistics.median(r.p99 for r in results),
                "p50_spread": [min(r.p50 for r in results), max(r.p50 for r in results)],
                "p99_spread": [min(r.p99 for r in results), max(r.p99 for r in results)],
                "rate": statistics.median(r.rate for r in results),
                "failures": sum(r.failures for r in results),
            }
            for key, results in runs.items()
        }
    return out


def rate_curve(system: System, rates: list[int], duration: float) -> list[dict[str, Any]]:
    """Open-model load at increasing rates until latency or errors run away."""
    points = []
    for rate in rates:
        with focus(system.proc):
            result = k6(system.target, vus=max(50, rate // 10), duration=duration, rate=rate)
        points.append({"target_rate": rate, **asdict(result)})
        if result.p99 > 500 or result.failures > result.count * 0.01 or result.rate < 0.9 * rate:
            break
    return points


def max_rate_under(points: list[dict[str, Any]], p99_ms: float) -> float:
    ok = [
        p["rate"]
        for p in points
        if p["p99"] < p99_ms and p["failures"] == 0 and p["rate"] >= 0.95 * p["target_rate"]
    ]
    return max(ok, default=0.0)


def capacity(system: System, duration: float, connections: int = 50) -> dict[str, Any]:
    """wrk with 50 keep-alive connections (or `connections`): the most requests/s the system
    serves, its latency there and its CPU per request."""
    with focus(system.proc):
        before = system.proc.cpu_by_process() if system.proc else {}
        result = asdict(
            wrk(system.target.address, connections=connections, duration=duration, body=CHAT_BODY)
        )
        if system.proc:
            after = system.proc.cpu_by_process()
            result["cpu_us_per_request"] = {
                name: (after[name] - before.get(name, 0.0)) / max(1, result["count"]) * 1e6
                for name in after
            }
        return result


def _stream_summary(runs: list[StreamRun]) -> dict[str, Any]:
    delays = [d for r in runs for d in r.delays_ms]
    gaps = [g for r in runs for g in r.gaps_ms]
    return {
        "streams": len(runs),
        "complete": sum(1 for r in runs if r.done and not r.error),
        "errors": sorted({r.error for r in runs if r.error}),
        "tokens": sum(r.tokens for r in runs),
        "ttfb_p50": percentile([r.ttfb_ms for r in runs], 50),
        "ttfb_p99": percentile([r.ttfb_ms for r in runs], 99),
        "ttft_p50": percentile([r.ttft_ms for r in runs], 50),
        "ttft_p99": percentile([r.ttft_ms for r in runs], 99),
        "delay_p50": percentile(delays, 50),
        "delay_p99": percentile(delays, 99),
        "gap_max": max(gaps, default=0.0),
    }


def streaming(system: System, count: int) -> dict[str, Any]:
    """Streams one at a time: time to first token and each token's delivery delay."""

    async def run() -> list[StreamRun]:
        async with Client(system.stream_protocol, system.stream_address, KEY) as client:
            await client.stream(PACED_TTFT)  # warm the connection
            return await sequential(client, PACED_TTFT, count)

    with focus(system.proc):
        return _stream_summary(asyncio.run(run()))


def held_streams(system: System, streams: int, proc: Proc | None) -> dict[str, Any]:
    """Holds many streams at 5 tokens/s; memory and CPU of the system while they run."""
    with focus(proc):
        return _held_streams(system, streams, proc)


def _held_streams(system: System, streams: int, proc: Proc | None) -> dict[str, Any]:
    """Memory and CPU are read in a window while every stream is open and none starts or
    ends, so the CPU per token there is the relaying alone; the CPU of the whole run divided by
    its requests is the cost of a request, start and end included."""
    window: dict[str, float] = {}
    cpu_before = proc.cpu_seconds() if proc else 0.0
    rss_before = proc.rss_bytes() if proc else 0
    started = time.monotonic()

    async def at_window(edge: str) -> None:
        window[f"{edge}_ns"] = time.monotonic_ns()
        if proc is not None:
            window[f"{edge}_cpu"] = proc.cpu_seconds()
            if edge == "start":
                window["rss_bytes"] = proc.rss_bytes()

    async def run() -> list[StreamRun]:
        async with Client(system.stream_protocol, system.stream_address, KEY) as client:
            return await hold(
                client,
                PACED_HOLD,
                streams,
                ramp_seconds=2.0,
                window_seconds=HOLD_WINDOW_SECONDS,
                at_window=at_window,
            )

    runs = asyncio.run(run())
    summary = _stream_summary(runs)
    summary["lost_tokens"] = streams * HOLD_TOKENS - summary["tokens"]
    summary["stalls"] = sum(1 for r in runs for g in r.gaps_ms if g > 10 * HOLD_INTERVAL_MS)
    summary["seconds"] = time.monotonic() - started
    in_window = sum(
        1 for r in runs for t in r.received_ns if window["start_ns"] <= t <= window["end_ns"]
    )
    summary["window_tokens"] = in_window
    if proc is not None:
        summary["rss_bytes"] = window["rss_bytes"]
        summary["rss_before_bytes"] = rss_before
        summary["kb_per_stream"] = (window["rss_bytes"] - rss_before) / streams / 1024
        window_cpu = window["end_cpu"] - window["start_cpu"]
        summary["cpu_us_per_token"] = window_cpu / max(1, in_window) * 1e6
        summary["cpu_ms_per_request"] = (proc.cpu_seconds() - cpu_before) / streams * 1e3
    return summary

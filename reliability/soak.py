"""A soak: steady mixed traffic for a while (streams, whole answers, cancellations, upstream
failures), with the gateway's and Envoy's resident memory and open files, and the gateway's
event-loop tasks, sampled as it runs. Reported: the growth from the first minute to the last
(a leak grows with time; a warm-up does not)."""

from __future__ import annotations

import concurrent.futures
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
import psutil

from reliability.harness import AUTH, Findings
from tests.support.stack import Stack

SAMPLE_SECONDS = 5.0
# A memory growth past this over the run is reported as a failure.
MAX_RSS_GROWTH_MB = 30.0
MAX_FD_GROWTH = 50
MAX_TASK_GROWTH = 50


def _traffic(stack: Stack, stop: threading.Event, worker: int) -> int:
    """One caller's loop: a mix of what users do, good and bad. Returns the requests sent."""
    mix = ("openai-ok", "anthropic-ok", "gemini-ok", "openai-drop", "openai-status-500")
    sent = 0
    with httpx.Client(timeout=30, base_url=stack.rest_url) as client:
        while not stop.is_set():
            model = mix[(sent + worker) % len(mix)]
            body = {"model": model, "messages": [{"role": "user", "content": "go"}]}
            headers = {**AUTH, "x-request-id": f"soak-{uuid.uuid4().hex[:10]}"}
            if sent % 3 == 0:  # a whole answer
                client.post("/v1/chat/completions", json=body, headers=headers)
            elif sent % 7 == 0:  # a caller that goes away mid-stream
                body["model"] = "openai-slow"
                with client.stream(
                    "POST", "/v1/chat/completions", json={**body, "stream": True}, headers=headers
                ) as answer:
                    for _ in answer.iter_bytes():
                        break
            else:
                client.post("/v1/chat/completions", json={**body, "stream": True}, headers=headers)
            sent += 1
    return sent


def _tasks(stack: Stack) -> int | None:
    metrics = httpx.get(f"http://{stack.config['listen']['metrics']}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith("llm_gateway_event_loop_tasks "):
            return int(float(line.split()[1]))
    return None


def _sample(gateway: psutil.Process, envoy: psutil.Process, stack: Stack) -> dict[str, Any]:
    return {
        "at": time.monotonic(),
        "gateway_rss_mb": gateway.memory_info().rss / 1e6,
        "gateway_fds": gateway.num_fds(),
        "envoy_rss_mb": envoy.memory_info().rss / 1e6,
        "envoy_fds": envoy.num_fds(),
        "tasks": _tasks(stack),
    }


def run(stack: Stack, seconds: float, workers: int = 6) -> Findings:
    findings = Findings("soak")
    gateway = psutil.Process(stack.process.pid)
    (envoy,) = [c for c in gateway.children() if c.name() == "envoy"]
    stop = threading.Event()
    samples = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_traffic, stack, stop, w) for w in range(workers)]
        while time.monotonic() - started < seconds:
            samples.append(_sample(gateway, envoy, stack))
            time.sleep(SAMPLE_SECONDS)
        stop.set()
        sent = sum(f.result() for f in futures)
    samples.append(_sample(gateway, envoy, stack))
    window = max(1, len(samples) // 5)  # the first and the last fifth of the run
    first, last = samples[:window], samples[-window:]

    def growth(name: str) -> float:
        before = [s[name] for s in first if s[name] is not None]
        after = [s[name] for s in last if s[name] is not None]
        return round(statistics.median(after) - statistics.median(before), 1)

    figures: dict[str, Any] = {
        "seconds": round(time.monotonic() - started),
        "requests": sent,
        "samples": len(samples),
    }
    for name in ("gateway_rss_mb", "gateway_fds", "envoy_rss_mb", "envoy_fds", "tasks"):
        start, end = round(first[0][name] or 0, 1), round(last[-1][name] or 0, 1)
        figures[name] = f"{start} -> {end} (growth {growth(name)})"
    findings.figures = figures
    findings.check(
        growth("gateway_rss_mb") <= MAX_RSS_GROWTH_MB,
        "gateway memory grew: " + figures["gateway_rss_mb"],
    )
    findings.check(
        growth("gateway_fds") <= MAX_FD_GROWTH, "gateway open files grew: " + figures["gateway_fds"]
    )
    findings.check(growth("tasks") <= MAX_TASK_GROWTH, "event-loop tasks grew: " + figures["tasks"])
    return findings

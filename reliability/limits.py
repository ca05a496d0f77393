"""Limits under concurrency, on one process and on two replicas sharing PostgreSQL and Redis:
a key's tokens per minute, with negative and huge token counts mixed in (budgets under
concurrency are in `make test`).
Promised: the counts are refused with a 400, and what is admitted never goes past a limit by
more than one request's reservation."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path
from typing import Any

import httpx

from reliability.faulty_upstream import FaultyUpstream
from reliability.harness import AUTH, Findings, config
from tests.support.databases import fresh_postgres_database
from tests.support.stack import Stack, start_stack

TPM = 2000
MAX_TOKENS = 200
STREAMS = 60
# The reservation of one request: its max_tokens and the prompt estimate (a few tokens).
RESERVATION = MAX_TOKENS + 16
ODD_COUNTS = (-1_000_000_000, -1, 0, 10**12, 2**31)


def _limited(settings: dict[str, Any]) -> dict[str, Any]:
    settings["keys"] = [{**settings["keys"][0], "tpm": TPM}]
    return settings


def _burst(stacks: list[Stack]) -> tuple[int, int, list[str]]:
    """Sends `STREAMS` paced streams and the odd counts at once, spread over the stacks;
    returns (admitted streams, odd counts refused with a 400, anything unexpected).

    The streams leave together (a barrier after each thread's client is made): one that set
    off after the first had ended would find their tokens settled and be admitted by right,
    which the count below would take for an overrun."""
    ready = threading.Barrier(STREAMS)

    def stream(index: int) -> str:
        stack = stacks[index % len(stacks)]
        body = {
            "model": "openai-paced",
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": MAX_TOKENS,
            "stream": True,
        }
        with httpx.Client(timeout=30) as client:
            ready.wait(timeout=30)
            answer = client.post(f"{stack.rest_url}/v1/chat/completions", json=body, headers=AUTH)
        if answer.status_code == 200 and answer.content.rstrip().endswith(b"[DONE]"):
            return "admitted"
        if answer.status_code == 429:
            return "refused"
        return f"{answer.status_code} {answer.content[:100]!r}"

    def odd(count: int) -> str:
        body = {
            "model": "openai-ok",
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": count,
        }
        answer = httpx.post(f"{stacks[0].rest_url}/v1/chat/completions", json=body, headers=AUTH)
        if answer.status_code == 400 and answer.json()["error"]["param"] == "max_tokens":
            return "rejected"
        return f"odd max_tokens {count}: {answer.status_code}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=STREAMS + len(ODD_COUNTS)) as pool:
        odds = [pool.submit(odd, c) for c in ODD_COUNTS]
        streams = list(pool.map(stream, range(STREAMS)))
        odd_results = [f.result() for f in odds]
    unexpected = [r for r in streams if r not in ("admitted", "refused")]
    unexpected += [r for r in odd_results if r != "rejected"]
    return streams.count("admitted"), odd_results.count("rejected"), unexpected


def run(
    upstream: FaultyUpstream, folder: Path, postgres: str | None, redis: str | None
) -> Findings:
    """One process, then (when PostgreSQL and Redis are given) two replicas."""
    findings = Findings("limits")
    setups: list[tuple[str, list[dict[str, Any]]]] = [
        ("one process", [_limited(config(upstream, folder / "one"))])
    ]
    if postgres and redis:
        database = fresh_postgres_database(postgres, "reliability")
        replicas = []
        for name in ("a", "b"):
            settings = _limited(config(upstream, folder / name))
            settings["storage"] = {**settings["storage"], "database": database, "redis_url": redis}
            replicas.append(settings)
        setups.append(("two replicas (PostgreSQL + Redis)", replicas))
    for name, configs in setups:
        stacks = [start_stack(folder / f"{name[:3]}-{i}", c) for i, c in enumerate(configs)]
        try:
            admitted, rejected, unexpected = _burst(stacks)
        finally:
            for stack in stacks:
                stack.stop()
        reserved = admitted * RESERVATION
        findings.check(
            reserved <= TPM + RESERVATION,
            f"{name}: {admitted} streams admitted ({reserved} tokens reserved against {TPM})",
        )
        findings.check(rejected == len(ODD_COUNTS), f"{name}: odd token counts not all refused")
        findings.failures += [f"{name}: {u}" for u in unexpected]
        findings.figures[name] = {
            "tpm": TPM,
            "concurrent streams (max_tokens 200)": STREAMS,
            "admitted": admitted,
            "tokens reserved by them": reserved,
            "negative or huge max_tokens refused (400)": f"{rejected} of {len(ODD_COUNTS)}",
        }
    return findings

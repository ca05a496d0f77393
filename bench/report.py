"""Writes docs/benchmarks.md and its plots from the results of one run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import embeddings, local_model
from bench.profile import METHOD

LABELS = {
    "a": "(a) direct",
    "b": "(b) llm-gateway REST via Envoy",
    "c": "(c) llm-gateway gRPC",
    "d": "(d) LiteLLM proxy",
}
MB = 1024 * 1024


def ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def plot_rates(curves: dict[str, list[dict[str, Any]]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 5))
    for key, points in curves.items():
        rates = [p["rate"] for p in points]
        (p99,) = axis.plot(
            rates, [p["p99"] for p in points], marker="o", label=f"{LABELS[key]} p99"
        )
        axis.plot(
            rates,
            [p["p50"] for p in points],
            linestyle="--",
            alpha=0.6,
            color=p99.get_color(),
            label=f"{LABELS[key]} p50",
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("requests per second achieved (open model)")
    axis.set_ylabel("latency (ms)")
    axis.set_title("Latency against request rate, chat completions, system on one core")
    for threshold in (5, 10, 50):
        axis.axhline(threshold, color="grey", linewidth=0.5)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_memory(held: dict[str, dict[str, Any]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 5))
    for key, by_count in held.items():
        counts = [0, *sorted(int(n) for n in by_count)]
        added = [0.0, *(by_count[str(n)]["kb_per_stream"] * n / 1024 for n in counts[1:])]
        axis.plot(counts, added, marker="o", label=LABELS[key])
    axis.set_xlabel("open streams (5 tokens/s each)")
    axis.set_ylabel("memory the open streams add to the system (MB)")
    axis.set_title("Memory against open streams")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    plot_rates(results["curves"], docs / "bench-latency-vs-rate.png")
    plot_memory(results["held"], docs / "bench-memory-vs-streams.png")
    (docs / "benchmarks.md").write_text(render(results))


def render(r: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); every number below comes from one run.",
        "",
        "## Machine and commands",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in r["machine"].items()]
    lines += [
        "",
        "```",
        *r["commands"],
        "```",
        "",
        "Pinning: the system under test (Envoy + gateway, or LiteLLM) on core 0 with "
        "`taskset`; load generators and upstreams on core 1. Unary upstream: an Envoy "
        "`direct_response` listener (with a buffer filter, so connections stay alive). "
        "Streaming upstream: `bench/paced_upstream.py`, whose tokens carry their send time.",
        "",
        "## Targets",
        "",
        "| target | result | met |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {res} | {'yes' if ok else '**no**'} |" for t, res, ok in r["targets"]]
    lat = r["latency"]
    lines += [
        "",
        "## Added latency (k6, closed model)",
        "",
        f"Medians of {r['rounds']} rounds of {r['duration']:.0f} s; systems alternate "
        "within each round; spread is min-max over rounds.",
        "",
        "| system | c | p50 | p99 | added p50 | added p99 | p50 spread | req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in ("1", "10"):
        base = lat[c]["a"]
        for key, v in lat[c].items():
            lines.append(
                f"| {LABELS[key]} | {c} | {ms(v['p50'])} | {ms(v['p99'])} | "
                f"{ms(v['p50'] - base['p50'])} | {ms(v['p99'] - base['p99'])} | "
                f"{v['p50_spread'][0]:.2f}-{v['p50_spread'][1]:.2f} | {v['rate']:.0f} |"
            )
    lines += [
        "",
        "## Throughput",
        "",
        "Highest rate (k6, open model, "
        f"{r['curve_duration']:.0f} s per step) whose p99 stayed under each bound with no "
        "error, and wrk's maximum with 50 keep-alive connections:",
        "",
        "| system | p99 < 5 ms | p99 < 10 ms | p99 < 50 ms | wrk max req/s |",
        "|---|---|---|---|---|",
    ]
    for key, under in r["max_rate"].items():
        cap = r["capacity"].get(key)
        lines.append(
            f"| {LABELS[key]} | {under['5']:.0f} | {under['10']:.0f} | "
            f"{under['50']:.0f} | {cap['rate']:.0f} |"
            if cap
            else f"| {LABELS[key]} | {under['5']:.0f} | {under['10']:.0f} | "
            f"{under['50']:.0f} | n/a |"
        )
    splits = [
        f"- {LABELS[key]}: "
        + ", ".join(f"{name} {us:.0f} us" for name, us in sorted(cap["cpu_us_per_request"].items()))
        for key, cap in r["capacity"].items()
        if cap.get("cpu_us_per_request")
    ]
    if splits:
        lines += ["", "CPU per request at wrk's maximum, by process of the system:", "", *splits]
    lines += [
        "",
        "![latency against rate](bench-latency-vs-rate.png)",
        "",
        "## Streaming",
        "",
        f"{r['stream_count']} streams one after another; the upstream sends the role chunk "
        "at once, then 30 tokens 20 ms apart. TTFB: to the first chunk; TTFT: to the first "
        "token; delay: from the upstream sending a token to the client receiving it.",
        "",
        "| system | TTFB p50 | added TTFB | TTFT p50 | added TTFT | delay p50 | delay p99 | "
        "added delay p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = r["streaming"]["a"]
    for key, v in r["streaming"].items():
        ttfb = v.get("ttfb_p50", float("nan"))
        lines.append(
            f"| {LABELS[key]} | {ms(ttfb)} | {ms(ttfb - base.get('ttfb_p50', float('nan')))} | "
            f"{ms(v['ttft_p50'])} | {ms(v['ttft_p50'] - base['ttft_p50'])} | "
            f"{ms(v['delay_p50'])} | {ms(v['delay_p99'])} | "
            f"{ms(v['delay_p99'] - base['delay_p99'])} |"
        )
    inside = r.get("gateway_first_chunk_ms")
    if inside:
        lines += [
            "",
            "The gateway's own access log over the same streams: median time from taking the "
            "call to holding the upstream's first chunk: "
            + ", ".join(f"{t} {v:.2f} ms" for t, v in sorted(inside.items()))
            + f" (the upstream's own time to first byte, seen directly: {ms(base['ttfb_p50'])}).",
        ]
    lines += [
        "",
        "## Streams held open",
        "",
        "Streams of 40 tokens at 5 tokens/s, opened over 2 s. Memory and CPU per token are "
        f"read in a {r['hold_window']:.0f} s window while every stream is open and none starts "
        "or ends (the relaying alone); CPU per request is the whole run's CPU over its streams "
        "(set-up, 40 tokens, end). Memory per stream: growth of the system's resident memory "
        "from just before the streams open to the window (resident memory also moves by a few "
        "MB on its own as allocators return memory, so small counts are within that noise). A "
        "stall is a gap over 10x the token interval. CPU is the system's: Envoy + gateway, or "
        "LiteLLM.",
        "",
        "| system | streams | complete | lost tokens | stalls | delay p99 | RSS | "
        "per stream | CPU per token | CPU per request |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, by_count in r["held"].items():
        for n, v in by_count.items():
            per = f"{v['kb_per_stream']:.1f} KB"
            lines.append(
                f"| {LABELS[key]} | {n} | {v['complete']} | {v['lost_tokens']} | "
                f"{v['stalls']} | {ms(v['delay_p99'])} | {v['rss_bytes'] / MB:.0f} MB | {per} | "
                f"{v['cpu_us_per_token']:.0f} us | {v['cpu_ms_per_request']:.2f} ms |"
            )
    most = r.get("most_streams")
    if most:
        lines += [
            "",
            "More streams, until a count loses a token, stalls or fails a stream (the direct "
            "row is the harness's own ceiling: upstream and client share the load core):",
            "",
            "| system | streams | clean | complete | lost tokens | stalls | delay p99 | "
            "longest gap |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, steps in most.items():
            lines += [
                f"| {LABELS[key]} | {s['streams']} | {'yes' if s['ok'] else '**no**'} | "
                f"{s['complete']} | {s['lost_tokens']} | {s['stalls']} | {ms(s['delay_p99'])} | "
                f"{ms(s['gap_max'])} |"
                for s in steps
            ]
    lines += [
        "",
        "![memory against open streams](bench-memory-vs-streams.png)",
        "",
        "## Idle memory and cold start",
        "",
        "| system | idle RSS | cold start |",
        "|---|---|---|",
    ]
    for key, seconds in r["cold_start"].items():
        rss = r["idle_rss"].get(key)
        lines.append(
            f"| {LABELS[key]} | {rss / MB:.0f} MB | {seconds:.2f} s |"
            if rss
            else f"| {LABELS[key]} | n/a | {seconds:.2f} s |"
        )
    lines += [
        "",
        "Cold start: from spawning the process to the first successful chat "
        "completion ((b) `llm-gateway up` through Envoy, (c) `llm-gateway serve` over "
        "gRPC, (d) `litellm`).",
        "",
        "## Ceilings of the harness",
        "",
    ]
    lines += [f"- {line}" for line in r["ceilings"]]
    if r.get("flags"):
        lines += ["", "Flagged (within 10% of a harness ceiling):", ""]
        lines += [f"- {flag}" for flag in r["flags"]]
    if "local_model" in r:
        lines += ["", *local_model.section(r["local_model"])]
    if "embeddings" in r:
        lines += ["", *embeddings.section(r["embeddings"])]
    if "instructions" in r:
        counts = r["instructions"]
        lines += [
            "",
            "## Instructions per request",
            "",
            "`bench/instructions.py`: valgrind's callgrind counts the user-space instructions of "
            "one process over 1,000 non-streamed chat completions through Envoy at c=10 (after "
            "a warm-up); the same build counts the same to about 0.3% however busy the machine "
            "is, so `make bench AGAINST=<ref>` compares them too. The kernel's share of a "
            "request is not in them.",
            "",
            "| process | instructions per request |",
            "|---|---|",
            f"| gateway (Python, all threads) | {counts['gateway_instructions']:,.0f} |",
            f"| Envoy (one worker) | {counts['envoy_instructions']:,.0f} |",
        ]
    if "profile" in r:
        lines += ["", "## Where the CPU goes, by stage", "", f"`bench/profile.py`: {METHOD}", ""]
        # Its tables' headings, one level down in this page.
        tables = r["profile"].split("\n")
        lines += [f"#{line}" if line.startswith("## ") else line for line in tables]
    lines += ["", "## Analysis of this run", ""] + [f"- {n}" for n in r.get("analysis", [])]
    lines += ["", "## Notes (measured while developing)", ""] + [f"- {n}" for n in r["notes"]]
    return "\n".join(lines) + "\n"

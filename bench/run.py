"""Runs the whole benchmark and writes docs/benchmarks.md: `python -m bench.run` (make bench).

Everything stops by itself: each load step is bounded in time, and every process started here
is stopped by pid (its process group) at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import embeddings, instructions, local_model, profile, report, scenarios
from bench.load import Target, k6, wrk
from bench.machine import describe_machine, version
from bench.procs import LOAD_CORE, SUT_CORE, Proc, focus
from bench.systems import (
    BIN,
    CHAT_BODY,
    LITELLM_VENV,
    direct,
    ensure_litellm,
    first_success,
    gateway_systems,
    start_envoy_upstream,
    start_gateway,
    start_litellm,
    start_realistic_gateway,
    start_upstreams,
)

ROOT = Path(__file__).resolve().parent.parent
# Measured while developing, with this harness's pieces (the gateway stack on core 0, wrk with
# 50 connections for 5 s on core 1, three runs each unless said), not in the run reported here.
NOTES = [
    "The Responses API's streams (`/v1/responses`, the semantic events, translated from the "
    "same chat upstream; scenario added after this page's run, so its rows are not above): "
    "`python -m bench.run --docs /tmp/bench15` at af276dd, 2026-12-02 14:12 UTC, a slower "
    "hour than this page's (chat's CPU per streamed token 177 against 133 us here): added "
    "time to first byte 2.94 against chat's 2.97 ms (0.99x), CPU per streamed token at 1,000 "
    "held streams 172 against chat's 177 us (0.97x; the Anthropic surface, also translated, "
    "188 us), 1,000 of 1,000 streams complete, no token lost, no stall: within the 1.2x of "
    "chat's the issue asks. The next full run puts both rows in the targets table.",
    "Helped most: every gRPC method found through one table (service/llm_gateway/"
    "method_table.py), none registered with grpc.aio. The generated registration functions "
    "also register each method, and grpc.aio then keeps a pending request per registered "
    "method (25 here) and runs asyncio.wait over all of them for every call it accepts. "
    "Instructions of the gateway's Python process per REST request (callgrind, below): "
    "1,416,662 -> 1,278,177 (-9.8%); Python calls per request (cProfile) 806 -> 592. The "
    "same cost grew with every service added since 63aacae (16 registered methods there).",
    "Helped: start-up with Python's garbage collector paused until the gateway serves, then "
    "its objects frozen out of later collections (llm_gateway/launcher.py), and the modules a "
    "configuration does not use not loaded (the Prometheus client, SQLite's store, the admin "
    "API, the local model supervisor, the Anthropic and Gemini providers). The gateway's "
    "start-up CPU 413/393/497 -> 338/301/401 ms (3 starts each, in process); cold start to "
    "the first 200 against a 63aacae install, paired starts: 0.523 against 0.441 s before, "
    "0.458 against 0.452 after (6 and 10 pairs). Before that, Envoy spawned before the "
    "server's modules load (llm-gateway up): 0.76 -> 0.72 s, little on this bench, where "
    "Envoy and the gateway share one core. A collection before the freeze cost 40-55 ms for "
    "no memory.",
    "Helped: the request validators' if-const-then blocks (\"a message whose role is V is a "
    'T") rewritten by scripts/generate.py as the tests they make: fastjsonschema compiles '
    "them to try/except, so every message raised and caught five exceptions. 1,278,177 -> "
    "1,212,949 instructions per request for the bench's one-message body (-5.1%); a "
    "conversation of n messages saves about n times that.",
    "Fixed: the streams lost at 2,000 held streams in the runs before (REST and gRPC, "
    "10-12 whole streams; the direct harness clean) were calls grpc's core cancelled "
    "(CANCELLED, before the gateway's handler ran) because more than 1,000 waited for the "
    "busy event loop to take them, grpc's default limit of pending calls. With the limit "
    "raised (now limits.max_open_requests), the gRPC scenario alone at 2,000 streams: "
    "2,000 complete, 0 lost, twice; with the default, 1,964-1,983 complete.",
    "Runs of one commit an hour apart differ by a third here (01e76ce at 05:53 and 06:15 "
    "UTC, the harness's own rows too: the direct upstream's c=1 p50 0.13 against 0.14 ms, "
    "wrk's maximum 25,650 against 19,442 req/s): CPU per request at c=10 1.09 against 1.45 "
    "ms, REST c=1 added p50 1.90 against 3.34 ms, c=64 p99 74 against 101 ms, while their "
    "instruction counts agree to 0.1% (gateway 1,209,744 against 1,208,979, Envoy 338,446 "
    "against 338,706): the CPU figures of runs hours apart compare the machine as much as "
    "the code, and the A/B below pairs them in time.",
    "Against 63aacae, where the first benchmark landed (make bench AGAINST=63aacae, "
    "2026-12-02 09:30 UTC, 5 rounds alternating, the tree at f9873a1; its realistic "
    "configuration cannot run there): cold start 0.566 against 0.591 s, idle RSS 141 against "
    "137 MB, REST c=10 1,560 against 1,470 req/s (1.06x) and 638 against 672 us of CPU per "
    "request (0.95x), REST c=1 p50 1.54 against 1.61 ms, gRPC c=1 p50 1.27 against 0.91 ms "
    "(spreads 0.84-1.44 and 0.87-1.29), c=64 p99 62 against 57 ms, CPU per streamed token 128 "
    "against 123 us; both stacks up at once, 20 pairs of 3 s windows at c=10: +15 us per "
    "request (Envoy +23, the gateway -11), requests/s 0.978x; instructions per request, "
    "gateway 1,210,612 against 1,272,386 (0.951x), Envoy 337,949 against 258,295 (1.308x, its "
    "Lua filter, below). The issue measured -11% requests/s, +20% CPU, cold start 0.8 "
    "against 0.5 s and +13 MB; earlier runs of this harness had said +65, +98 and +115 us "
    "paired before the method table, the validators' rewrite and the start-up changes. "
    "What remains is Envoy's filter (the unary-twin sniff and the held answers, each of "
    "which saves the gateway more than it costs Envoy) and 4 MB of the gateway's larger code.",
    "Where Envoy's instructions go (callgrind, one worker, per REST request; each variant of "
    "envoy.yaml measured on the same gateway): without the Lua filter 247k; with 63aacae's "
    "filter (a response function that maps x-http-status) 267k; with this filter 338k. Of "
    "the difference: the request function itself 12k, waiting for the body 6.5k, reading it "
    "for a stream flag 2.5k, and holding a whole JSON answer until its trailing metadata "
    "(made its headers) 31k. That hold stays: the gateway's own send of those headers ahead "
    "of the answer costs it 36k instructions and a write more. Without the request and "
    "header timeouts, the local replies, the routes added since, or the transcoder's extra "
    "services and print options: no change (within 0.2%). Calling trailers() without "
    "waiting for the body first loses the headers (the first handle's headers are gone).",
    "Helped: Envoy in a session of its own. Linux shares a core between sessions (autogroup "
    "scheduling); with Envoy in the gateway's session the stack served 740 req/s, with its own "
    "1,310 req/s. For the same reason the harness starts every process in a process group "
    "of its own but in the benchmark's session, so that all systems share cores alike.",
    "Helped: no separate gRPC send of initial metadata on REST success answers (Envoy adds "
    "x-request-id itself) and x-request-id in the typed API's trailing metadata: 1,316 -> "
    "1,415 req/s. A py-spy profile had shown 7.7% of the gateway's samples on that one send.",
    "Helped (again, after the deployment and rate-limit headers had brought that send back): "
    "a whole REST answer's headers in its trailing metadata, which Envoy's Lua filter makes "
    "response headers; a stream's headers still go first, marked. make bench AGAINST, CPU "
    "per request at c=10 against the commit before: 0.79x, 0.92x and 0.97x in three runs "
    "(this machine's speed moved between them), 0.90x on the realistic configuration.",
    "Helped, a little: a whole REST answer as a unary RPC. Envoy's Lua filter sends a "
    'generation body of known length up to 256 KiB with no `"stream": true` in it to '
    "the unary twin of its RPC. Two stacks of the same install at once, one with the "
    "rewrite and one without, 24 alternating rounds of wrk c=10 for 3 s: paired median "
    "difference per request Envoy +12 us (it reads the body), gateway -53 us, total -50 us, "
    "requests/s 1.05x. make bench AGAINST the commit before (--unary-only, 5 rounds) could "
    "not tell the two apart (982 against 890 us, spreads of 270 and 460 us).",
    "Helped (the harness measuring what deploys): the gateway's modules compiled to "
    "bytecode before the run (make bytecode). This machine sets PYTHONDONTWRITEBYTECODE, so "
    "the editable install compiled every module at each start (a wheel's install compiles "
    "them once): 4 starts each, cold start 0.76 -> 0.61 s, idle RSS 142.0 -> 139.5 MB. "
    "The generated request validator alone held 14 MB while compiled from source at import.",
    "Helped: the access line written straight to the stream of the handler the gateway "
    "installs (through `logging` only once another handler is added): 11.3 -> 3.8 us per "
    "line (timeit); two installs at once, the commit before against this, 16 alternating "
    "rounds of wrk c=10 for 3 s: paired median -32 us of the gateway's CPU per request, "
    "requests/s 1.04x. With the access log off altogether (--log-level warning) the same "
    "harness had measured 41 us less per request than with it on through `logging`.",
    "Helped: access-log records without the caller's file and line, thread and process "
    "(the logging documentation's optimisations): 18.3 -> 10.5 us per line (timeit).",
    "Helped: Redis's, asyncpg's and OpenTelemetry's clients imported only where configured: "
    "idle RSS of Envoy + gateway 153 -> 143 MB, cold start 0.99 -> 0.90 s (A/B medians of "
    "10 rounds).",
    "Helped: request validators compiled from OpenAI's schemas at build time instead of at "
    "start-up: 20 MB less resident memory (81 -> 61 MB for the Python process) and no "
    "compilation in the cold start.",
    "Did not help, reverted: batching access-log writes (1,385-1,463 req/s against "
    "1,377-1,424 without); gc.freeze() after start-up (1,397-1,415); larger gc thresholds "
    "(20000/20/20: 1,308-1,361, worse); reading the rest of an upstream body after [DONE] so "
    "its connection is reused (added time to first byte 2.94 -> 3.72 ms, worse; one run).",
    "Did not help (measured, not kept): aiohttp client variants against the Envoy upstream "
    "(CPU per request in the client, c=10, 5 rounds: as the gateway does it 143 us; with a "
    "prebuilt yarl.URL 155, without the read timeout 131, read() instead of iter_any() 141, "
    "all three 130: all within the spread of 95-183); a Unix socket between Envoy and "
    "grpc.aio, and grpc.http2.bdp_probe off (bare grpc.aio server: no change beyond the "
    "spread).",
    "The floor of grpc.aio here (a bare server, HttpBody of 600 bytes, c=10, the server's "
    "CPU, medians of 5 rounds): 215-247 us per unary-unary call, 310-330 us per "
    "server-streaming call of one message, 350 us with initial metadata sent first; 31-33 "
    "us per message of a stream sent back to back. A REST generation path serves both "
    "`stream: false` and `true`, so its RPC is server-streaming; whole answers now go to a "
    "unary twin (above). "
    "grpc.aio's completion queue is polled by a thread that wakes the event loop with a "
    "one-byte write for each completed operation.",
    "Where the time goes: at saturation the Python process takes most of the CPU per request "
    "(by process, above). py-spy on the gateway under wrk "
    "shows most samples in native code (the uvloop event loop running grpc's Cython "
    "callbacks, 35%, and grpc's poller threads, 10%); the gateway's own Python code (request "
    "handling, validation, aiohttp's client, the key check, the access log) is about a "
    "quarter. The remaining levers are in grpc.aio's per-call overhead, not in our code.",
    "Runs vary with the machine: over six full runs the added p50 at concurrency 1 over REST "
    "ranged from 1.40 to 2.01 ms and the direct upstream's own p50 from 0.04 to 0.08 ms (the "
    "direct rows show how fast the machine was in each run); the REST/LiteLLM ratio at "
    "p99 < 50 ms ranged from 12.5x to 19.9x, because LiteLLM's knee (60 to 90 req/s) moves "
    "from run to run, and at saturation from 14.5x to 15.9x.",
    "The p99 < 5 ms column is close to the harness's resolution: k6's own p99 in the open "
    "model on one core is a few ms, and in one of the development runs it exceeded 5 ms "
    "against the direct upstream itself at 1,000 req/s (GOMAXPROCS=1; with more Go threads "
    "on one core it is worse).",
]
NOTES += [
    "Local model (bench/local_model.py, 5 rounds each, medians, gateway's cost at 1 and 4 "
    "streams): llama-server with 2 threads uses both cores, so the gateway's and Envoy's CPU "
    "per token (0.45 + 0.17 ms at one stream, from their CPU times over 600 tokens) is taken "
    "from the model: 3.7% and 4.7% in the first run. Did not help: `--poll 0` (3.65%, 3.66%); "
    "renicing llama-server to -10 (4.10%, 4.35%: CFS shares the same CPU either way). Within "
    "budget but not defaults: `--prio 2` (SCHED_FIFO compute threads: the gateway then runs in "
    "the model's gaps; 1.55%, -0.38%, and direct 113 tokens/s instead of 93, but it needs "
    "CAP_SYS_NICE and would starve the gateway's other traffic), and one thread for the model "
    "(0.24%, 1.09%, at 57 tokens/s instead of 93).",
    "Where the gateway's time per token goes at one stream: a grpc.aio server-streaming call "
    "that sends a message every 10 ms costs about 300 us of CPU per message (150 us at 3 ms "
    "apart; 36 us when messages are sent back to back), measured with a bare grpc.aio server "
    "and HttpBody messages; the gateway's own Python per chunk is a small part (py-spy). At "
    "1,000 streams grpc batches across calls (147 us per token, above).",
]
MORE_STREAMS = [1250, 1500, 2000]  # after 100 and 1,000: the most streams held cleanly
GATEWAY_RATES = [250, 500, 750, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1750, 2000, 2500]
LITELLM_RATES = [20, 40, 60, 70, 80, 90, 100, 150]
DIRECT_RATES = [1000, 2500, 5000]


def machine() -> dict[str, str]:
    """The machine, and the versions of the tools this benchmark uses."""
    return {
        **describe_machine(),
        "k6": version([str(BIN / "k6"), "version"]),
        "wrk": version(["wrk", "--version"]),
        "litellm": version(
            [
                str(LITELLM_VENV / "bin" / "python"),
                "-c",
                "import importlib.metadata as m; print(m.version('litellm'))",
            ]
        ),
    }


def cross_core_cost(work: Path, duration: float) -> float:
    """k6 at concurrency 1 against an Envoy upstream on the load core and on the other core."""
    results = {}
    for core in (LOAD_CORE, SUT_CORE):
        proc, port = start_envoy_upstream(work, f"crosscore-{core}", core)
        try:
            url = f"http://127.0.0.1:{port}/json/v1/chat/completions"
            results[core] = k6(Target("x", "rest", url), vus=1, duration=duration).p50
        finally:
            proc.stop()
    return results[SUT_CORE] - results[LOAD_CORE]


def gateway_first_chunk(proc: Proc) -> dict[str, float]:
    """The gateway's own view of the streams so far, from its access log: the median time from
    taking a call to holding the upstream's first chunk (`ttft_ms`), by transport."""
    times: dict[str, list[float]] = {}
    for line in proc.log.read_text().splitlines():
        if line.startswith("{") and '"stream":true' in line and '"ttft_ms"' in line:
            entry = json.loads(line)
            times.setdefault(entry["transport"], []).append(entry["ttft_ms"])
    return {transport: statistics.median(values) for transport, values in times.items()}


def most_streams(system: Any, proc: Proc | None, counts: list[int]) -> list[dict[str, Any]]:
    """Holds more and more streams until one count loses a token, stalls or fails a stream."""
    steps = []
    for count in counts:
        summary = scenarios.held_streams(system, count, proc)
        ok = summary["complete"] == count and not summary["lost_tokens"] and not summary["stalls"]
        steps.append(
            {
                "streams": count,
                "ok": ok,
                "complete": summary["complete"],
                "lost_tokens": summary["lost_tokens"],
                "stalls": summary["stalls"],
                "delay_p99": summary["delay_p99"],
                "gap_max": summary["gap_max"],
                # Why streams failed, when some did (the error types the client saw).
                "errors": summary["errors"],
            }
        )
        time.sleep(1.0)
        if not ok:
            break
    return steps


def held(system: Any, proc: Proc | None, counts: list[int]) -> dict[str, Any]:
    out = {}
    for count in counts:
        out[str(count)] = scenarios.held_streams(system, count, proc)
        time.sleep(1.0)
    return out


def realistic(
    upstreams: Any, work: Path, bare: Any, rounds: int, duration: float
) -> dict[str, float]:
    """c=10 requests/s of the bare gateway and of one with the configuration a real deployment
    runs (metrics on, usage recorded to SQLite, prices, a virtual key with rpm/tpm limits and
    a budget), alternating in each round, and the CPU per request of each (Envoy + gateway,
    `<name>_cpu_us`); medians."""
    proc, system = start_realistic_gateway(upstreams, work)
    try:
        rates: dict[str, list[float]] = {"bare": [], "realistic": []}
        cpu: dict[str, list[float]] = {"bare": [], "realistic": []}
        for _ in range(rounds):
            for name, each in (("bare", bare), ("realistic", system)):
                with focus(each.proc):
                    target = each.target
                    before = each.proc.cpu_seconds()
                    load = wrk(
                        target.address,
                        connections=10,
                        duration=duration,
                        body=CHAT_BODY,
                        key=target.key,
                    )
                    used = each.proc.cpu_seconds() - before
                rates[name].append(load.rate)
                cpu[name].append(used / max(1, load.count) * 1e6)
        medians = {name: statistics.median(values) for name, values in rates.items()}
        return medians | {f"{name}_cpu_us": statistics.median(v) for name, v in cpu.items()}
    finally:
        proc.stop()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ensure_litellm()  # before anything is measured: installing it takes a minute
    quick = args.quick
    duration = 3.0 if quick else 5.0
    rounds = 1 if quick else 3
    curve_duration = 3.0 if quick else 4.0
    stream_count = 10 if quick else 30
    hold_counts = [100] if quick else [100, 1000]
    results: dict[str, Any] = {
        "machine": machine(),
        "notes": NOTES,
        "rounds": rounds,
        "duration": duration,
        "curve_duration": curve_duration,
        "hold_window": scenarios.HOLD_WINDOW_SECONDS,
        "stream_count": stream_count,
        "flags": [],
    }
    procs: list[Proc] = []
    upstreams = start_upstreams(work)
    try:
        a = direct(upstreams)
        gateway_proc, config = start_gateway(upstreams, work)
        procs.append(gateway_proc)
        b, c = gateway_systems(gateway_proc, config)
        cold = {"b": first_success(b)}
        litellm_proc, d = start_litellm(upstreams, work)
        procs.append(litellm_proc)
        cold["d"] = first_success(d)
        systems = [a, b, c, d]
        gateway_proc.wait_quiet()
        litellm_proc.wait_quiet()
        idle = {
            "b": gateway_proc.rss_bytes(),
            "c": gateway_proc.rss_bytes(),
            "d": litellm_proc.rss_bytes(),
        }
        print("latency", flush=True)
        results["latency"] = scenarios.latency(systems, rounds, duration)
        print("rate curves", flush=True)
        curves = {
            "a": scenarios.rate_curve(a, DIRECT_RATES, curve_duration),
            "b": scenarios.rate_curve(b, GATEWAY_RATES, curve_duration),
            "c": scenarios.rate_curve(c, GATEWAY_RATES, curve_duration),
            "d": scenarios.rate_curve(d, LITELLM_RATES, curve_duration),
        }
        results["curves"] = curves
        results["max_rate"] = {
            k: {str(t): scenarios.max_rate_under(v, t) for t in (5, 10, 50)}
            for k, v in curves.items()
        }
        print("capacity", flush=True)
        results["capacity"] = {s.key: scenarios.capacity(s, duration) for s in (a, b, d)}
        results["c64"] = scenarios.capacity(b, duration, connections=64)
        print("realistic configuration", flush=True)
        results["realistic"] = realistic(upstreams, work, b, rounds, duration)
        print("streaming", flush=True)
        results["streaming"] = {s.key: scenarios.streaming(s, stream_count) for s in systems}
        results["gateway_first_chunk_ms"] = gateway_first_chunk(gateway_proc)
        print("held streams", flush=True)
        results["held_direct"] = scenarios.held_streams(a, max(hold_counts), None)
        results["held"] = {
            "b": held(b, gateway_proc, hold_counts),
            "c": held(c, gateway_proc, hold_counts),
            "d": held(d, litellm_proc, hold_counts),
        }
        # The same held streams through the Anthropic surface: translated, not passed through.
        translated = dataclasses.replace(b, stream_protocol="anthropic")
        results["held_translated"] = scenarios.held_streams(
            translated, max(hold_counts), gateway_proc
        )
        # And through the Responses API (its semantic events, from the same chat upstream).
        responses = dataclasses.replace(b, stream_protocol="responses")
        results["streaming_responses"] = scenarios.streaming(responses, stream_count)
        results["held_responses"] = scenarios.held_streams(
            responses, max(hold_counts), gateway_proc
        )
        results["most_streams"] = {
            "a": most_streams(a, None, MORE_STREAMS),
            "b": most_streams(b, gateway_proc, MORE_STREAMS),
            "c": most_streams(c, gateway_proc, MORE_STREAMS),
        }
        results["idle_rss"] = idle
        for proc in procs:
            proc.stop()
        procs.clear()
        serve_proc, serve_config = start_gateway(upstreams, work, command="serve")
        procs.append(serve_proc)
        cold["c"] = first_success(gateway_systems(serve_proc, serve_config)[1])
        results["cold_start"] = {k: cold[k] for k in ("b", "c", "d")}
        results["cross_core_ms"] = cross_core_cost(work, duration)
        results["ceiling_wrk"] = results["capacity"]["a"]["rate"]
        print("instructions per request", flush=True)
        results["instructions"] = instructions.measure(
            BIN, upstreams, work / "instructions", 200 if quick else 1000
        )
        print("profile by stage", flush=True)
        results["profile"], results["stage_costs"] = profile.measure(
            upstreams, work, args.docs, duration, max(hold_counts)
        )
        # The flame graphs just written go with profile.md: it is rewritten from the same run.
        page = profile.page(results["profile"], "`make bench` (`bench/run.py`)")
        (args.docs / "profile.md").write_text(page)
    finally:
        for proc in procs:
            proc.stop()
        upstreams.stop()
    print("embeddings", flush=True)
    results["embeddings"] = embeddings.measure(work / "embeddings", rounds=3 if quick else 9)
    print("local model", flush=True)
    results["local_model"] = local_model.measure(work, rounds=3 if quick else 9)
    return results


def analysis(r: dict[str, Any], ttfb: float, rest50: float, lite50: float) -> list[str]:
    """Explains, from this run's measurements, the targets that depend on them most."""
    cap_b, cap_d = r["capacity"]["b"], r["capacity"]["d"]
    cpu_b = sum(cap_b.get("cpu_us_per_request", {}).values())
    cpu_d = sum(cap_d.get("cpu_us_per_request", {}).values())
    python_b = cap_b.get("cpu_us_per_request", {}).get("llm-gateway", 0.0)
    failed = [p for p in r["curves"]["b"] if p["target_rate"] > rest50]
    knee = failed[0] if failed else None
    lines = [
        f"REST against LiteLLM: {rest50:.0f} against {lite50:.0f} req/s with p99 under 50 ms "
        f"({rest50 / max(lite50, 1):.2f}x)"
        + (
            f"; the next step, {knee['target_rate']} req/s "
            f"({knee['target_rate'] / cap_b['rate']:.0%} of wrk's maximum), had a p99 of "
            f"{knee['p99']:.0f} ms"
            if knee
            else ""
        )
        + f". At saturation: {cap_b['rate']:.0f} against {cap_d['rate']:.0f} req/s "
        f"({cap_b['rate'] / max(cap_d['rate'], 1):.1f}x), and {cpu_b:.0f} against {cpu_d:.0f} us "
        f"of CPU per request ({cpu_d / max(cpu_b, 1):.1f}x less), {python_b:.0f} us of it in "
        "the gateway's Python process.",
    ]
    closed = r["latency"]["10"]
    grpc50 = r["max_rate"]["c"]["50"]
    lines.append(
        f"gRPC against REST: with 10 callers in a loop {closed['c']['rate']:.0f} against "
        f"{closed['b']['rate']:.0f} req/s, and at concurrency 1 an added p50 of "
        f"{r['latency']['1']['c']['p50'] - r['latency']['1']['a']['p50']:.2f} against "
        f"{r['latency']['1']['b']['p50'] - r['latency']['1']['a']['p50']:.2f} ms; in the open "
        f"model {grpc50:.0f} against {rest50:.0f} req/s with p99 under 50 ms. Each open-model "
        "step lasts a few seconds, and neighbouring steps near the knee pass and fail "
        "unevenly from run to run; wrk has no gRPC mode, so there is no saturation figure for "
        "gRPC."
    )
    inside = r.get("gateway_first_chunk_ms", {})
    if inside:
        upstream = r["streaming"]["a"]["ttfb_p50"]
        lines.append(
            f"Added time to first byte over REST: {ttfb:.2f} ms. The gateway's access log puts "
            f"{inside.get('rest', float('nan')) - upstream:.2f} ms of it between taking the call "
            "and holding the upstream's first chunk (beyond the upstream's own "
            f"{upstream:.2f} ms); the rest is the transport of a server-streaming call into and "
            "out of grpc.aio and through Envoy's transcoder, which costs more for a stream's "
            "first message than a unary call costs whole (added p50 at concurrency 1: "
            f"{r['latency']['1']['c']['p50'] - r['latency']['1']['a']['p50']:.2f} ms gRPC, "
            f"{r['latency']['1']['b']['p50'] - r['latency']['1']['a']['p50']:.2f} ms REST)."
        )
    for scenario, costs in r.get("stage_costs", {}).items():
        total = sum(us for _, us in costs)
        ours = sum(us for stage, us in costs if stage not in profile.TRANSPORT)
        biggest = ", ".join(f"{stage} {us:.0f} us" for stage, us in costs[:4])
        line = (
            f"Where the CPU goes, {scenario} (by stage, below): {total:.0f} us, of which "
            f"{biggest}; the gateway's own stages"
        )
        if ours < total / 2:
            line += (
                " (validation, auth, limits, routing, the data plane, framing, usage, metrics, "
                f"logs) {ours:.0f} us together: most of it is the transport (Envoy, grpc.aio, "
                "the upstream client and the event loop)."
            )
        else:
            line += f" {ours:.0f} us together."
        lines.append(line)
    return lines


def _within(value: float, limit: float, unit: str, digits: int = 2) -> tuple[str, bool]:
    """A figure against its upper limit: the figure, and by how much it misses if it does."""
    shown = f"{value:,.{digits}f} {unit}"
    if value <= limit:
        return shown, True
    return f"{shown}, misses by {value - limit:,.{digits}f} {unit} ({value / limit - 1:.0%})", False


def responses_targets(
    r: dict[str, Any], chat_ttfb: float, chat_cpu: float, translated_cpu: float
) -> list[tuple[str, str, bool]]:
    """The Responses API's streams against chat completions' over REST (issue 15): added
    time to first byte and CPU per token within 20% (the Anthropic surface's translated
    stream shown beside: a Responses stream is always translated)."""
    if "streaming_responses" not in r:
        return []
    ttfb = r["streaming_responses"]["ttfb_p50"] - r["streaming"]["a"]["ttfb_p50"]
    cpu = r["held_responses"].get("cpu_us_per_token", float("nan"))
    return [
        (
            "Responses API: added time to first byte <= 1.2x chat's (REST)",
            f"{ttfb:.2f} against {chat_ttfb:.2f} ms ({ttfb / chat_ttfb:.2f}x)",
            ttfb <= 1.2 * chat_ttfb,
        ),
        (
            "Responses API: CPU per streamed token <= 1.2x chat's (REST)",
            f"{cpu:.0f} against {chat_cpu:.0f} us ({cpu / chat_cpu:.2f}x; Anthropic surface, "
            f"also translated: {translated_cpu:.0f} us)",
            cpu <= 1.2 * chat_cpu,
        ),
    ]


def second_round_targets(
    r: dict[str, Any], added50: float, ttfb: float, big: dict[str, Any]
) -> list[tuple[str, str, bool]]:
    """The targets of the second performance round (issue 14), each miss with its size."""
    lat1, lat10 = r["latency"]["1"], r["latency"]["10"]
    # At c=10, as the first round measured it (at saturation, with 50 connections, grpc
    # batches more and a request costs less).
    c10_cpu = r.get("realistic", {}).get("bare_cpu_us", float("nan")) / 1000
    grpc_added = lat1["c"]["p50"] - lat1["a"]["p50"]
    c10_ratio = lat10["b"]["rate"] / max(lat10["d"]["rate"], 1.0)
    passthrough = big.get("cpu_us_per_token", float("nan"))
    translated = r.get("held_translated", {}).get("cpu_us_per_token", float("nan"))
    idle_mb = r["idle_rss"]["b"] / 1024 / 1024
    rows = [
        ("CPU per request <= 0.75 ms (Envoy + gateway, wrk, c=10)", c10_cpu, 0.75, "ms"),
        ("REST c=64 p99 < 60 ms (wrk)", r["c64"]["p99"], 60.0, "ms") if "c64" in r else None,
        ("added p50 at c=1 <= 1.0 ms (REST)", added50, 1.0, "ms"),
        ("added p50 at c=1 <= 0.7 ms (gRPC)", grpc_added, 0.7, "ms"),
        ("added time to first byte <= 1.5 ms (REST)", ttfb, 1.5, "ms"),
        ("CPU per streamed token <= 60 us, passed through (REST)", passthrough, 60.0, "us"),
        (
            "CPU per streamed token <= 100 us, translated (Anthropic surface)",
            translated,
            100.0,
            "us",
        ),
        ("idle memory (Envoy + gateway) <= 120 MB", idle_mb, 120.0, "MB"),
        ("cold start <= 0.5 s", r["cold_start"]["b"], 0.5, "s"),
    ]
    targets = []
    for row in rows:
        if row is not None:
            label, value, limit, unit = row
            digits = 0 if unit in ("us", "MB") else 2
            targets.append((label, *_within(value, limit, unit, digits)))
    targets += responses_targets(r, ttfb, passthrough, translated)
    ratio_ok = c10_ratio >= 15
    shown = f"{c10_ratio:.1f}x" + ("" if ratio_ok else f", misses by {15 - c10_ratio:.1f}x")
    targets.insert(1, ("REST c=10 >= 15x LiteLLM (k6, closed model)", shown, ratio_ok))
    return targets


def judge(r: dict[str, Any]) -> None:
    """Fills in the targets table, the ceilings and the flags."""
    lat1, stream, held_b = r["latency"]["1"], r["streaming"], r["held"]["b"]
    big = held_b[max(held_b, key=int)]
    added50 = lat1["b"]["p50"] - lat1["a"]["p50"]
    added99 = lat1["b"]["p99"] - lat1["a"]["p99"]
    ttfb = stream["b"]["ttfb_p50"] - stream["a"]["ttfb_p50"]
    itl = stream["b"]["delay_p99"] - stream["a"]["delay_p99"]
    rest50 = r["max_rate"]["b"]["50"]
    grpc50 = r["max_rate"]["c"]["50"]
    lite50 = r["max_rate"]["d"]["50"] or r["capacity"]["d"]["rate"]
    per_stream = big["kb_per_stream"]
    idle_mb = r["idle_rss"]["b"] / 1024 / 1024
    r["targets"] = [
        ("added p50 at c=1 <= 1.5 ms (REST)", f"{added50:.2f} ms", added50 <= 1.5),
        ("added p99 at c=1 <= 5 ms (REST)", f"{added99:.2f} ms", added99 <= 5),
        ("REST >= 1,000 req/s with p99 < 50 ms", f"{rest50:.0f} req/s", rest50 >= 1000),
        (
            "REST >= 15x LiteLLM (p99 < 50 ms)",
            f"{rest50 / max(lite50, 1):.2f}x",
            rest50 >= 15 * lite50,
        ),
        ("gRPC more than REST (p99 < 50 ms)", f"{grpc50:.0f} req/s", grpc50 > rest50),
        ("added time to first byte <= 2 ms (REST)", f"{ttfb:.2f} ms", ttfb <= 2),
        ("added inter-token p99 <= 5 ms", f"{itl:.2f} ms", itl <= 5),
        (
            "CPU per streamed token <= 150 us (Envoy + Python, REST)",
            f"{big.get('cpu_us_per_token', float('nan')):.0f} us",
            big.get("cpu_us_per_token", 1e9) <= 150,
        ),
        (
            f"{max(held_b, key=int)} streams, no lost frame, no stall",
            f"{big['complete']} complete, {big['lost_tokens']} lost, {big['stalls']} stalls",
            big["lost_tokens"] == 0 and big["stalls"] == 0 and int(max(held_b, key=int)) >= 1000,
        ),
        ("memory per open stream <= 100 KB", f"{per_stream:.1f} KB", per_stream <= 100),
        ("idle memory (Envoy + gateway) <= 150 MB", f"{idle_mb:.0f} MB", idle_mb <= 150),
        ("cold start < 2 s", f"{r['cold_start']['b']:.2f} s", r["cold_start"]["b"] < 2),
    ]
    r["targets"] += second_round_targets(r, added50, ttfb, big)
    if "embeddings" in r:
        r["targets"].append(embeddings.target(r["embeddings"]))
    if "realistic" in r:
        real = r["realistic"]
        share = real["realistic"] / max(real["bare"], 1.0)
        r["targets"].append(
            (
                "realistic configuration (metrics, SQLite usage, a limited and budgeted key): "
                "c=10 within 10% of the bare configuration's",
                f"{real['realistic']:.0f} vs {real['bare']:.0f} req/s ({share:.0%})",
                share >= 0.9,
            )
        )
    if "local_model" in r:
        worst = local_model.worst_cost(r["local_model"])
        shared = local_model.worst_cost(r["local_model"], "shared")
        r["targets"].append(
            (
                f"local model through the gateway: <= {local_model.BUDGET:g}% of its tokens/s",
                f"{worst:.2f}% isolated, {shared:.2f}% sharing both cores (worst of 1, 4 streams)",
                worst <= local_model.BUDGET,
            )
        )
    r["analysis"] = analysis(r, ttfb, rest50, lite50)
    direct_hold = r["held_direct"]
    r["ceilings"] = [
        f"Envoy direct_response upstream with wrk, 50 connections: {r['ceiling_wrk']:.0f} req/s "
        f"(p50 {r['capacity']['a']['p50']:.2f} ms).",
        f"k6 against it, open model: highest rate held "
        f"{max((p['rate'] for p in r['curves']['a']), default=0):.0f} req/s.",
        f"Paced upstream and stream client with {direct_hold['streams']} direct streams: "
        f"{direct_hold['complete']} complete, {direct_hold['lost_tokens']} tokens lost, "
        f"delay p99 {direct_hold['delay_p99']:.2f} ms.",
        f"Crossing between the two cores at concurrency 1 (upstream on the other core, k6 "
        f"p50): {r['cross_core_ms']:.3f} ms. Each gateway request crosses four times.",
    ]
    for key in ("b", "c", "d"):
        for point in r["curves"][key]:
            if point["rate"] >= 0.9 * r["ceiling_wrk"]:
                r["flags"].append(
                    f"{key} at {point['rate']:.0f} req/s is near the upstream's ceiling"
                )
    k6_ceiling = max((p["rate"] for p in r["curves"]["a"]), default=0)
    for key in ("b", "c"):
        top = max((p["rate"] for p in r["curves"][key]), default=0)
        if k6_ceiling and top >= 0.9 * k6_ceiling:
            r["flags"].append(f"{key} reached {top:.0f} req/s, near k6's own ceiling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps, for trying it out")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the last run's benchmarks.json",
    )
    args = parser.parse_args()
    if args.report_only:
        results = json.loads((args.docs / "benchmarks.json").read_text())
        results["notes"] = NOTES
        results["flags"] = []
        judge(results)
        report.write(results, args.docs)
        return
    with tempfile.TemporaryDirectory(prefix="llm-gateway-bench-") as folder:
        work = Path(folder)
        results = run(args, work)
    results["commands"] = [
        "make bench    # = .venv/bin/python -m bench.run" + (" --quick" if args.quick else "")
    ]
    judge(results)
    (args.docs).mkdir(parents=True, exist_ok=True)
    (args.docs / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results, args.docs)
    print((args.docs / "benchmarks.md").read_text())


if __name__ == "__main__":
    main()

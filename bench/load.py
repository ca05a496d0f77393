"""Load generators: k6 (closed and open models, REST and gRPC) and wrk (capacity)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.procs import LOAD_CORE

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
KEY = "sk-bench-key-123456"


@dataclass(frozen=True)
class Target:
    """Where a load generator sends requests: REST URL or gRPC address."""

    name: str
    protocol: str  # "rest" or "grpc"
    address: str  # URL for REST, host:port for gRPC
    model: str = "bench-json"
    key: str = KEY


@dataclass
class LoadResult:
    """Latency percentiles in milliseconds and the rates achieved."""

    p50: float
    p99: float
    count: int
    failures: int
    rate: float


def k6(target: Target, *, vus: int, duration: float, rate: float | None = None) -> LoadResult:
    """Runs k6 on the load core: `vus` callers in a loop, or `rate` requests/s (open model)."""
    with tempfile.TemporaryDirectory() as folder:
        summary = Path(folder) / "summary.json"
        env = {
            "MODEL": target.model,
            "KEY": target.key,
            "VUS": str(vus),
            "DURATION": f"{duration}s",
            "SUMMARY": str(summary),
            "MODE": "rate" if rate else "vus",
            "RATE": str(int(rate or 0)),
            # One Go thread on the one load core: with more, k6 adds its own latency noise.
            "GOMAXPROCS": "1",
        }
        if target.protocol == "rest":
            env["URL"] = target.address
        else:
            env["TARGET"] = target.address
            env["PROTOS"] = str(HERE.parent / "protos")
        script = HERE / "k6" / f"{target.protocol}.js"
        subprocess.run(
            ["taskset", "-c", LOAD_CORE, str(BIN / "k6"), "run", "-q", str(script)],
            env={**env, "PATH": "/usr/bin:/bin", "HOME": folder},
            check=True,
            capture_output=True,
            timeout=duration + 120,
        )
        metrics = json.loads(summary.read_text())["metrics"]
    trend = metrics["http_req_duration" if target.protocol == "rest" else "grpc_req_duration"]
    checks = metrics["checks"]["values"]
    values = trend["values"]
    return LoadResult(
        p50=values["p(50)"],
        p99=values["p(99)"],
        count=int(values["count"]),
        failures=int(checks["fails"]),
        rate=values["count"] / duration,
    )


def wrk(url: str, *, connections: int, duration: float, body: str, key: str = KEY) -> LoadResult:
    """Runs wrk on the load core with keep-alive connections; returns its latency and rate."""
    script = (
        "wrk.method = 'POST'\nwrk.body = [[" + body + "]]\n"
        "wrk.headers['Content-Type'] = 'application/json'\n"
        f"wrk.headers['Authorization'] = 'Bearer {key}'\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            [
                "taskset",
                "-c",
                LOAD_CORE,
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{int(duration)}s",
                "--latency",
                "-s",
                lua.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 60,
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    failures = int(non_2xx.group(1)) if non_2xx else 0
    if errors:
        failures += sum(int(n) for n in re.findall(r"\d+", errors.group(0)))
    return LoadResult(percentile("50"), percentile("99"), requests, failures, rate)

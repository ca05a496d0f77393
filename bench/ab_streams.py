"""A/B of the CPU per streamed token (Envoy and the gateway, REST, the OpenAI surface on an
OpenAI-compatible upstream): this working tree against a git ref, in one run, alternating
rounds on the same paced upstream and the same core pinning as `make bench`.

    .venv/bin/python -m bench.ab_streams --against e0fc498 --rounds 3 --streams 100

The ref is checked out into a temporary worktree and run with this virtual environment
(`PYTHONPATH` puts its `service/` first), so only the gateway's own code differs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.procs import SUT_CORE, start
from bench.systems import (
    BIN,
    first_success,
    gateway_config,
    gateway_systems,
    start_upstreams,
)

ROOT = Path(__file__).resolve().parent.parent


def _measure(service: Path, upstreams: Any, work: Path, name: str, streams: int) -> float:
    path, config = gateway_config(upstreams, work)
    proc = start(
        name,
        [str(BIN / "llm-gateway"), "up", "--config", str(path)],
        SUT_CORE,
        work / "logs",
        env={"PYTHONPATH": str(service)},
    )
    try:
        rest, _ = gateway_systems(proc, config)
        first_success(rest)
        proc.wait_quiet()
        held = scenarios.held_streams(rest, streams, proc)
        return float(held["cpu_us_per_token"])
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, help="the git ref to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-ab-") as folder:
        work = Path(folder)
        ref = work / "ref"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref), args.against],
            check=True,
            capture_output=True,
        )
        upstreams = start_upstreams(work)
        sides = {"this tree": ROOT / "service", args.against: ref / "service"}
        measured: dict[str, list[float]] = {side: [] for side in sides}
        try:
            for round_ in range(args.rounds):
                for side, service in sides.items():
                    name = f"gateway-{round_}-{len(measured[side])}-{side.replace(' ', '-')}"
                    measured[side].append(_measure(service, upstreams, work, name, args.streams))
                    time.sleep(1.0)
        finally:
            upstreams.stop()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref)])
    for side, values in measured.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{side}: median {statistics.median(values):.0f} us per token ({shown})")
    ratio = statistics.median(measured["this tree"]) / statistics.median(measured[args.against])
    print(f"ratio this tree / {args.against}: {ratio:.2f}")


if __name__ == "__main__":
    main()

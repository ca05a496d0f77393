"""CPU per request of the data plane's telemetry, in process: a request's watch created,
routed and finished, with metrics off and on (tracing off). Best of 5 runs of 20,000.

    PYTHONPATH=service .venv/bin/python -m bench.telemetry_cost
"""

from __future__ import annotations

import timeit

from llm_gateway.telemetry import RequestWatch, Telemetry
from llm_gateway.telemetry.metrics import GatewayMetrics

REQUESTS = 20_000


def per_request(telemetry: Telemetry) -> float:
    """Seconds of one request's telemetry."""

    def one() -> None:
        watch = RequestWatch(telemetry, "chat/completions", "gpt-4o", "rest", True, {}, {})
        watch.routed()
        watch.finish(200, None, 0.5, 0.1, 30, 40, 0.001)

    return min(timeit.repeat(one, number=REQUESTS, repeat=5)) / REQUESTS


if __name__ == "__main__":
    for name, telemetry in (("off", Telemetry()), ("metrics", Telemetry(GatewayMetrics()))):
        print(f"{name}: {per_request(telemetry) * 1e6:.1f} us per request")

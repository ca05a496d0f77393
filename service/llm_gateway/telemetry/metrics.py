"""The gateway's Prometheus metrics, named after OpenTelemetry's GenAI semantic conventions.

Where a convention exists its instrument is used under the Prometheus name OpenTelemetry's
exporter gives it (dots become underscores, the unit is appended): `gen_ai.server.request.duration`
is `gen_ai_server_request_duration_seconds`, `gen_ai.client.token.usage` is
`gen_ai_client_token_usage`, and attributes become labels the same way
(`gen_ai.request.model` is `gen_ai_request_model`). What the conventions do not cover (request
counts by deployment and transport, cost, in-flight calls, retries, limit refusals) is under
`llm_gateway_`. Bucket boundaries are the conventions' advice.

Each metric lives in the gateway's own registry, so several servers in one process (tests)
never share counters.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from llm_gateway.telemetry.finished import FinishedRequest

_REQUEST_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "deployment",
    "transport",
    "http_response_status_code",
    "error_type",
    "surface",
)
_MODEL_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92)  # fmt: skip
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                 7.5, 10.0)  # fmt: skip
_PER_TOKEN_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Series:
    """The metric children of one label set of a finished request."""

    requests: Counter
    duration: Histogram
    time_to_first_token: Histogram
    time_per_output_token: Histogram
    input_tokens: Histogram
    output_tokens: Histogram
    cost: Counter


class GatewayMetrics:
    """Every metric of the gateway, and the scrape endpoint that serves them."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "llm_gateway_requests",
            "Generation requests by model, deployment, transport, status and surface.",
            _REQUEST_LABELS,
            registry=registry,
        )
        self.duration = Histogram(
            "gen_ai_server_request_duration",
            "Time from receiving a generation request to its last byte.",
            _REQUEST_LABELS,
            unit="seconds",
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token",
            "Time from receiving a streamed request to its first chunk.",
            (*_MODEL_LABELS, "deployment", "transport"),
            unit="seconds",
            buckets=_TTFT_BUCKETS,
            registry=registry,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token",
            "Mean time between output tokens of a streamed answer, after the first.",
            (*_MODEL_LABELS, "deployment", "transport"),
            unit="seconds",
            buckets=_PER_TOKEN_BUCKETS,
            registry=registry,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per request, by type (input: prompt, output: completion).",
            (*_MODEL_LABELS, "deployment", "gen_ai_token_type"),
            buckets=_TOKEN_BUCKETS,
            registry=registry,
        )
        self.cost = Counter(
            "llm_gateway_cost",
            "Cost of the requests, in the unit of the configured prices.",
            (*_MODEL_LABELS, "deployment"),
            registry=registry,
        )
        self.in_flight = Gauge(
            "llm_gateway_requests_in_flight",
            "Generation requests being served, streams apart from whole answers.",
            ("transport", "stream"),
            registry=registry,
        )
        self.upstream_errors = Counter(
            "llm_gateway_upstream_errors",
            "Failed upstream attempts, by deployment and error code.",
            ("deployment", "error_type"),
            registry=registry,
        )
        self.retries = Counter(
            "llm_gateway_upstream_retries",
            "Upstream attempts after a request's first (retries and fallbacks).",
            ("gen_ai_request_model",),
            registry=registry,
        )
        self.limit_rejections = Counter(
            "llm_gateway_limit_rejections",
            "Requests refused by a rate limit or budget, by error code.",
            ("gen_ai_request_model", "error_type"),
            registry=registry,
        )
        self.dropped_fields = Counter(
            "llm_gateway_dropped_fields",
            "Fields of callers' requests that a translation to another API left out (each "
            "request's are named in its x-llm-gateway-dropped header and log line).",
            ("surface", "gen_ai_provider_name"),
            registry=registry,
        )
        self.event_loop_tasks = Gauge(
            "llm_gateway_event_loop_tasks",
            "Tasks alive on the gateway's event loop (a leak shows as growth under steady load).",
            registry=registry,
        )
        self.usage_records_dropped = Counter(
            "llm_gateway_usage_records_dropped",
            "Usage records dropped because too many were waiting for an unreachable database.",
            registry=registry,
        )
        # The metrics' children for each label set seen: looking them up by label values on
        # every request took half the metrics' cost (27 -> 13 us per request, in process).
        self._series: dict[tuple[str, ...], _Series] = {}
        self._in_flight: dict[tuple[str, str], Gauge] = {}
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reports the loop's live tasks at each scrape (from the scrape's thread: reading
        the loop's task set is safe there, asyncio retries if it changes meanwhile)."""
        self.event_loop_tasks.set_function(lambda: len(asyncio.all_tasks(loop)))

    def serve(self, address: str) -> int:
        """Serves `/metrics` on `address` (HOST:PORT) from a thread; returns the port."""
        host, _, port = address.rpartition(":")
        self._server, self._thread = start_http_server(
            int(port), host.strip("[]"), registry=self.registry
        )
        return int(self._server.server_port)

    def close(self) -> None:
        """Stops serving `/metrics`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def finished(self, done: FinishedRequest) -> None:
        """Counts one finished generation request."""
        key = (
            done.operation,
            done.provider,
            done.model,
            done.deployment,
            done.transport,
            str(done.status),
            done.error_type,
            done.surface,
        )
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(key)
        series.requests.inc()
        series.duration.observe(done.duration)
        if done.time_to_first_token is not None:
            series.time_to_first_token.observe(done.time_to_first_token)
            if done.output_tokens > 1:
                per_token = (done.duration - done.time_to_first_token) / (done.output_tokens - 1)
                series.time_per_output_token.observe(per_token)
        if done.input_tokens:
            series.input_tokens.observe(done.input_tokens)
        if done.output_tokens:
            series.output_tokens.observe(done.output_tokens)
        if done.cost:
            series.cost.inc(done.cost)
        for deployment, error_type in done.upstream_errors:
            self.upstream_errors.labels(deployment, error_type).inc()
        if done.attempts > 1:
            self.retries.labels(done.model).inc(done.attempts - 1)
        if done.dropped:
            self.dropped_fields.labels(done.surface, done.provider).inc(done.dropped)

    def _new_series(self, key: tuple[str, ...]) -> _Series:
        model, transport = key[:4], key[4]
        return _Series(
            requests=self.requests.labels(*key),
            duration=self.duration.labels(*key),
            time_to_first_token=self.time_to_first_token.labels(*model, transport),
            time_per_output_token=self.time_per_output_token.labels(*model, transport),
            input_tokens=self.token_usage.labels(*model, "input"),
            output_tokens=self.token_usage.labels(*model, "output"),
            cost=self.cost.labels(*model),
        )

    def in_flight_of(self, transport: str, stream: str) -> Gauge:
        """The in-flight gauge of a transport and kind of request."""
        gauge = self._in_flight.get((transport, stream))
        if gauge is None:
            gauge = self._in_flight[transport, stream] = self.in_flight.labels(transport, stream)
        return gauge

    def refused(self, model: str, error_type: str) -> None:
        """Counts a request refused by a rate limit or budget."""
        self.limit_rejections.labels(model, error_type).inc()

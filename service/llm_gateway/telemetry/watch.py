"""What the data plane reports of each generation request: its metrics and its trace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llm_gateway.errors import error_type
from llm_gateway.routing import Attempts
from llm_gateway.routing.deployment import Deployment
from llm_gateway.telemetry.finished import OPERATIONS, FinishedRequest

if TYPE_CHECKING:  # imported only when metrics or tracing are on (start-up time, memory)
    from opentelemetry.trace import Span
    from prometheus_client import Gauge

    from llm_gateway.telemetry.metrics import GatewayMetrics
    from llm_gateway.telemetry.tracing import Tracing

# W3C trace context, version 00 (a later version may only add fields after these).
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}(-[-0-9a-z.]*)?")
# The model label of requests for a model the gateway does not serve (OpenTelemetry's name
# for a value outside the known set).
UNKNOWN_MODEL = "_OTHER"
# Request fields → their `gen_ai.request.*` span attributes.
_SAMPLING = {
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
}


def valid_traceparent(value: str | None) -> str | None:
    """The caller's `traceparent` when it is well formed, else None."""
    if value is None or len(value) > 64 or not _TRACEPARENT.fullmatch(value):
        return None
    return value


class Telemetry:
    """The data plane's metrics and tracing; either may be off."""

    def __init__(self, metrics: GatewayMetrics | None = None, tracing: Tracing | None = None):
        self.metrics = metrics
        self.tracing = tracing


class RequestWatch:
    """One request's in-flight count, span and attempt spans, and its metrics once finished."""

    def __init__(
        self,
        telemetry: Telemetry,
        endpoint: str,
        model: str,
        transport: str,
        stream: bool,
        trace_headers: Mapping[str, str],
        body: Mapping[str, Any],
        surface: str = "openai",
    ) -> None:
        self._metrics = telemetry.metrics
        self._tracing = telemetry.tracing
        self._operation = OPERATIONS.get(endpoint, endpoint)
        self._model = model
        # Metrics label a model only once it is known to be served: a caller naming random
        # models must not create a time series each.
        self._model_label = UNKNOWN_MODEL
        self._transport = transport
        self._surface = surface
        self._stream = "true" if stream else "false"
        self._span: Span | None = None
        self._attempt: Span | None = None
        self.attempts = Attempts()
        self.trace_id = _trace_id(trace_headers.get("traceparent"))
        self._in_flight: Gauge | None = None
        if self._metrics is not None:
            self._in_flight = self._metrics.in_flight_of(transport, self._stream)
            self._in_flight.inc()
        if self._tracing is not None:
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": self._operation,
                "llm_gateway.transport": transport,
                "llm_gateway.stream": stream,
            }
            for field, name in _SAMPLING.items():
                value = body.get(field)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    attributes[f"gen_ai.request.{name}"] = value
            self._span = self._tracing.request_span(self._operation, trace_headers, attributes)
            context = self._span.get_span_context()
            if context.is_valid:
                self.trace_id = format(context.trace_id, "032x")
            self.attempts.observer = self

    def routed(self) -> None:
        """The requested model is one the gateway serves."""
        self._model_label = self._model
        if self._span is not None:
            self._span.update_name(f"{self._operation} {self._model}")
            self._span.set_attribute("gen_ai.request.model", self._model)

    def opened(self, deployment: Deployment) -> str | None:
        """Starts the span of an upstream attempt; returns its `traceparent`."""
        if self._tracing is None or self._span is None:
            return None
        self._attempt, traceparent = self._tracing.attempt_span(
            self._span,
            f"{self._operation} {deployment.upstream_model}",
            {
                "gen_ai.operation.name": self._operation,
                "gen_ai.provider.name": deployment.provider.system,
                "gen_ai.request.model": deployment.upstream_model,
                "llm_gateway.deployment": deployment.name,
                "llm_gateway.attempt": self.attempts.count,
            },
        )
        return traceparent

    def closed(self, error: BaseException | None) -> None:
        """Ends the span of the attempt that just ended."""
        if self._attempt is not None and self._tracing is not None:
            if error is not None:
                self._tracing.fail(self._attempt, error_type(error))
            self._attempt.end()
            self._attempt = None

    def finish(
        self,
        status: int,
        error: BaseException | None,
        duration: float,
        time_to_first_token: float | None,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
    ) -> None:
        """Records the finished request in the metrics and ends its span."""
        deployment = self.attempts.deployment
        provider = deployment.provider.system if deployment else ""
        failure = error_type(error) if error is not None else ""
        if self._in_flight is not None:
            self._in_flight.dec()
        if self._metrics is not None:
            self._metrics.finished(
                FinishedRequest(
                    operation=self._operation,
                    provider=provider,
                    model=self._model_label,
                    deployment=self.attempts.served_by or "",
                    transport=self._transport,
                    surface=self._surface,
                    status=status,
                    error_type=failure,
                    duration=duration,
                    time_to_first_token=time_to_first_token,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cost=cost,
                    attempts=self.attempts.count,
                    upstream_errors=tuple(self.attempts.failures),
                    dropped=len(self.attempts.dropped),
                )
            )
            if status == 429 and self.attempts.count == 0:
                self._metrics.refused(self._model_label, failure)
        if self._span is not None and self._tracing is not None:
            span = self._span
            if deployment is not None:
                span.set_attribute("gen_ai.provider.name", provider)
                span.set_attribute("gen_ai.response.model", deployment.upstream_model)
                span.set_attribute("llm_gateway.deployment", deployment.name)
            span.set_attribute("llm_gateway.attempts", self.attempts.count)
            span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
            span.set_attribute("http.response.status_code", status)
            if error is not None:
                self._tracing.fail(span, failure)
            span.end()


def _trace_id(traceparent: str | None) -> str | None:
    """The trace id of a valid `traceparent`, for the log line when tracing is off."""
    valid = valid_traceparent(traceparent)
    match = _TRACEPARENT.fullmatch(valid) if valid is not None else None
    return match.group(1) if match else None

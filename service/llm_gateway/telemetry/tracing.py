"""OpenTelemetry tracing: a span per request, a child span per upstream attempt, W3C trace
context in and out, exported over OTLP/gRPC in batches from a background thread.

Span names and attributes follow the GenAI semantic conventions (`chat gpt-4o`,
`gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...); the gateway's own facts are under
`llm_gateway.*`. Spans never carry a prompt, an answer or a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from llm_gateway.config.settings import TracingSettings

_PROPAGATOR = TraceContextTextMapPropagator()
_EXPORT_TIMEOUT_SECONDS = 2
Attributes = dict[str, Any]


class Tracing:
    """The gateway's tracer provider and OTLP exporter."""

    def __init__(self, settings: TracingSettings) -> None:
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        # A short timeout: an unreachable collector must not hold up a shutdown for long.
        exporter = OTLPSpanExporter(
            endpoint=settings.otlp_endpoint, insecure=True, timeout=_EXPORT_TIMEOUT_SECONDS
        )
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("llm_gateway")

    def request_span(
        self, name: str, trace_headers: Mapping[str, str], attributes: Attributes
    ) -> Span:
        """Starts the server span of an inbound request, continuing the caller's trace when its
        `traceparent` is given."""
        parent = _PROPAGATOR.extract(trace_headers)
        return self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )

    def attempt_span(self, parent: Span, name: str, attributes: Attributes) -> tuple[Span, str]:
        """Starts the client span of one upstream attempt; returns it and the `traceparent` to
        send upstream."""
        span = self._tracer.start_span(
            name, context=set_span_in_context(parent), kind=SpanKind.CLIENT, attributes=attributes
        )
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=set_span_in_context(span, Context()))
        return span, carrier["traceparent"]

    @staticmethod
    def fail(span: Span, error_type: str) -> None:
        """Marks a span as failed with `error.type`."""
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR))

    def close(self) -> None:
        """Exports the spans still waiting, then stops the exporter."""
        self._provider.shutdown()

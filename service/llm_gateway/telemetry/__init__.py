"""Metrics, traces and what the data plane reports to them. `telemetry.metrics` (the
Prometheus client) and `telemetry.tracing` (the OpenTelemetry SDK) are imported only when
metrics or tracing are on."""

from llm_gateway.telemetry.watch import RequestWatch, Telemetry

__all__ = ["RequestWatch", "Telemetry"]

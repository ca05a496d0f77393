"""Metrics, traces and what the data plane reports to them. `telemetry.tracing` (the
OpenTelemetry SDK) is imported only when tracing is on."""

from llm_gateway.telemetry.metrics import GatewayMetrics
from llm_gateway.telemetry.watch import RequestWatch, Telemetry

__all__ = ["GatewayMetrics", "RequestWatch", "Telemetry"]

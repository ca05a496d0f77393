"""Metrics, traces and what the data plane reports to them."""

from llm_gateway.telemetry.metrics import GatewayMetrics
from llm_gateway.telemetry.tracing import Tracing
from llm_gateway.telemetry.watch import RequestWatch, Telemetry

__all__ = ["GatewayMetrics", "RequestWatch", "Telemetry", "Tracing"]

"""What the data plane knows about the call it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter

from llm_gateway.auth.keys import Caller


@dataclass(slots=True)
class CallInfo:
    """One inbound call, after authentication."""

    request_id: str
    caller: Caller
    transport: str
    started: float = field(default_factory=perf_counter)
    # The caller's W3C trace context (`traceparent`, `tracestate`), when it sent a valid one.
    trace_headers: dict[str, str] = field(default_factory=dict)

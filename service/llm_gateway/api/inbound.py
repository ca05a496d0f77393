"""What both API surfaces do first with every call: identify it, authenticate it, and tie the
upstream work to the caller's lifetime."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane.call import CallInfo
from llm_gateway.telemetry.watch import valid_traceparent

_MAX_REQUEST_ID = 200
_MAX_TRACESTATE = 512  # W3C's limit for what a vendor must propagate


def request_id_of(metadata: dict[str, str]) -> str:
    """Returns the caller's `x-request-id` when it is usable, otherwise a new one."""
    given = metadata.get("x-request-id", "")
    if given and len(given) <= _MAX_REQUEST_ID and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


class InboundCall:
    """An RPC being served: its metadata, request id, and the hook that cancels its work.

    Over REST, Envoy resets the gRPC stream when the caller disconnects; over gRPC the caller
    cancels or its deadline passes. grpc.aio usually raises `CancelledError` in the handler, but
    not always (grpc/grpc#36193): the RPC's done callback, which always fires, cancels the
    handler's task too, so the upstream request is closed either way.
    """

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any], transport: str) -> None:
        self.metadata: dict[str, str] = {
            key: value
            for key, value in (context.invocation_metadata() or ())
            if isinstance(value, str)
        }
        self.request_id = request_id_of(self.metadata)
        self.transport = transport
        self._finished = False
        task = asyncio.current_task()
        context.add_done_callback(self._cancel_work(task))  # type: ignore[arg-type]

    def _cancel_work(self, task: asyncio.Task[Any] | None) -> Callable[[Any], None]:
        def on_done(_: Any) -> None:
            if not self._finished and task is not None and not task.done():
                task.cancel()

        return on_done

    def finish(self) -> None:
        """Marks the handler as done, so that the RPC's completion does not cancel it."""
        self._finished = True

    async def authenticate(self, keys: KeyRing) -> CallInfo:
        """Returns the call's identity for the data plane, or raises a 401 `GatewayError`."""
        call = CallInfo(self.request_id, await keys.authenticate(self.metadata), self.transport)
        traceparent = valid_traceparent(self.metadata.get("traceparent"))
        if traceparent is not None:
            call.trace_headers["traceparent"] = traceparent
            tracestate = self.metadata.get("tracestate")
            if tracestate and len(tracestate) <= _MAX_TRACESTATE:
                call.trace_headers["tracestate"] = tracestate
        return call

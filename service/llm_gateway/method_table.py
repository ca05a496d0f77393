"""The gateway's gRPC methods in one table, which the server consults as its only handler.

The generated `add_*Servicer_to_server` functions give the server each service twice: as a
generic handler, and method by method ("registered methods"). grpc.aio keeps one pending
request for new calls per registered method and, for every call it accepts, waits on all of
them again (one `asyncio.wait` over a task per method, 25 here, each with a done callback to
add and remove): a cost per call that grows with every method the gateway serves. Given only
this table, the server keeps one pending request, and a call's handler is one dictionary
lookup away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc


class MethodTable(grpc.GenericRpcHandler):  # type: ignore[type-arg]  # generic in the stubs only
    """Collects what the generated registration functions (and reflection) add, then serves
    as the server's one generic handler (`install`)."""

    def __init__(self) -> None:
        self._methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        self._others: list[grpc.GenericRpcHandler[Any, Any]] = []

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Takes a service's methods (what the generated code calls with its handlers)."""
        for name, handler in handlers.items():
            self._methods[f"/{service}/{name}"] = handler

    def add_generic_rpc_handlers(
        self, handlers: Iterable[grpc.GenericRpcHandler[Any, Any]]
    ) -> None:
        """Takes handlers that do not list their methods (reflection's); the generated code's
        own generic handlers are asked too, and only find what the table already has."""
        self._others.extend(handlers)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The handler of a call's method, or None for a method nobody serves."""
        handler = self._methods.get(handler_call_details.method)
        if handler is not None:
            return handler
        for other in self._others:
            handler = other.service(handler_call_details)
            if handler is not None:
                return handler
        return None

    def wrap(
        self,
        service: str,
        wrapper: Callable[[str, grpc.RpcMethodHandler[Any, Any]], grpc.RpcMethodHandler[Any, Any]],
    ) -> None:
        """Replaces each method handler of `service` with `wrapper(method name, handler)`."""
        prefix = f"/{service}/"
        for path, handler in self._methods.items():
            if path.startswith(prefix):
                self._methods[path] = wrapper(path.removeprefix(prefix), handler)

    def install(self, server: grpc.aio.Server) -> None:
        """Gives the server this table as its handler; register everything before."""
        server.add_generic_rpc_handlers((self,))

"""Per-method limits on a typed gRPC request's size.

grpcio has one receive limit for a whole server: the gateway's is the largest any method
takes (the upload RPCs': a 25 MiB file). Each typed method's handler is given a deserializer
that measures the message before parsing it, and a behaviour that refuses one over its
method's limit with RESOURCE_EXHAUSTED and OpenAI's error fields (a 413), before anything
else runs. A deserializer cannot refuse by itself: grpc answers an exception raised there
with UNKNOWN and the exception's class in the message. (The REST paths' limits are Envoy's,
route by route.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc

from llm_gateway.api.grpc.status import abort
from llm_gateway.api.inbound import request_id_of
from llm_gateway.errors import GatewayError

if TYPE_CHECKING:  # generic in the stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]
Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True, slots=True)
class _TooLarge:
    """What the measuring deserializer gives for a message over the limit."""

    size: int


async def _refuse(context: Context, message: _TooLarge, limit: int) -> None:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    error = GatewayError(
        413,
        f"The request message is {message.size} bytes; this method takes at most {limit}.",
        code="request_too_large",
    )
    await abort(context, error, request_id_of(metadata))


def limited(handler: Handler, limit: int) -> Handler:
    """`handler` refusing request messages larger than `limit` bytes (unary requests only:
    the typed API has no client streams)."""
    parse: Callable[[bytes], Any] = handler.request_deserializer or (lambda data: data)

    def measured(data: bytes) -> Any:
        return _TooLarge(len(data)) if len(data) > limit else parse(data)

    if handler.unary_unary is not None:
        # grpc.aio runs coroutine behaviours; the stubs type the synchronous API's.
        answer = cast(Callable[[Any, Context], Awaitable[Any]], handler.unary_unary)

        async def unary(request: Any, context: Context) -> Any:
            if isinstance(request, _TooLarge):
                await _refuse(context, request, limit)
            return await answer(request, context)

        return grpc.unary_unary_rpc_method_handler(unary, measured, handler.response_serializer)
    if handler.unary_stream is not None:
        stream = cast(Callable[[Any, Context], AsyncGenerator[Any, None]], handler.unary_stream)

        async def streamed(request: Any, context: Context) -> AsyncIterator[Any]:
            if isinstance(request, _TooLarge):
                await _refuse(context, request, limit)
            messages = stream(request, context)
            try:
                async for message in messages:
                    yield message
            finally:  # closed now, not at collection: its upstream call ends with it
                await messages.aclose()

        return grpc.unary_stream_rpc_method_handler(streamed, measured, handler.response_serializer)
    return handler

"""One generation call over a REST surface, whatever the API family (OpenAI, Anthropic,
Gemini): authenticate, parse, call the data plane, write the answer, the stream or the error.

Each family's wire format is a `Dialect`. An answer relayed from a same-family upstream is
written as its bytes, and so is each event of a relayed stream, only framed (`StreamFramer`);
a canonical answer or stream is encoded in the dialect. A stream's status is decided by its
first chunk: an upstream refusal before it is a proper HTTP error; a failure after it ends the
stream with the dialect's in-stream error frame.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest import framing
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo, DataPlane, Decisions
from llm_gateway.errors import GatewayError, internal_error, invalid_request
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, CanonicalChunk
from llm_gateway.model.wire import WireAnswer, WireEvent

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, HttpBody]


class StreamEncoder(Protocol):
    """Writes one stream of canonical chunks in a dialect's event format."""

    def chunk(self, chunk: CanonicalChunk) -> bytes:
        """The bytes for one chunk (empty when it has nothing to say in this dialect)."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """The frame that reports a failure after the stream has started."""
        ...

    def end(self) -> bytes:
        """The bytes that close a stream that completed."""
        ...


class StreamFramer(Protocol):
    """Writes one stream of relayed events in a dialect's event format."""

    def event(self, event: WireEvent) -> bytes:
        """The frame of one event, its data as the upstream sent it."""
        ...

    def error(self, error: GatewayError) -> bytes | None:
        """The frame that reports a failure after the stream has started; None for a format
        that has none (audio bytes): the stream is then cut (`StreamCut`)."""
        ...

    def end(self) -> bytes:
        """The bytes that close a stream that completed."""
        ...


class StreamCut(Exception):
    """A stream that failed after it started, in a format without an error frame: its
    servicer ends the call with an error status rather than as if it were complete (the
    proxy passes the status on as trailers; over HTTP/1.1 Envoy's transcoder can only end
    the body, envoyproxy/envoy#9126)."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class Dialect(Protocol):
    """One REST API family's answers, streams and errors."""

    stream_content_type: str

    def answer(self, answer: CanonicalAnswer) -> bytes:
        """A whole canonical answer as this family's JSON."""
        ...

    def relayed(self, answer: WireAnswer) -> bytes:
        """A whole answer relayed from a same-family upstream, as the caller gets it (its
        bytes, except where the family's state is the gateway's: the Responses API's)."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """An error answer's JSON body."""
        ...

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        """A writer for the canonical stream that answers `request`."""
        ...

    def framer(self) -> StreamFramer:
        """A writer for a stream relayed from a same-family upstream."""
        ...


# The content type Envoy gives a request that came to a REST path as gRPC.
GRPC_ON_REST = "application/x-grpc-on-rest"
# How deeply a request body may nest. Far more than any API of the family needs (OpenAI's
# structured outputs allow 10 levels of schema), and far enough below orjson's limit of 254
# when the gateway writes the body upstream, translations' wrapping levels included.
MAX_JSON_DEPTH = 128


def _too_deep(body: Any) -> str | None:
    """The top-level member of `body` that nests more than `MAX_JSON_DEPTH` levels, if any."""
    members = (
        body.items()
        if isinstance(body, dict)
        else enumerate(body if isinstance(body, list) else ())
    )
    for name, value in members:
        pending = [(value, 2)]
        while pending:
            node, depth = pending.pop()
            if isinstance(node, dict):
                children: Any = node.values()
            elif isinstance(node, list):
                children = node
            else:
                continue
            if depth > MAX_JSON_DEPTH:
                return str(name)
            pending.extend((child, depth + 1) for child in children)
    return None


def load_json(body: HttpBody, complaint: str) -> Any:
    """Parses a request body; malformed JSON is a 400 `invalid_json` saying `complaint`, and
    a body nested more than `MAX_JSON_DEPTH` levels a 400 naming the member. A gRPC request
    sent to a REST path (Envoy renames its content type) is a 415."""
    if body.content_type == GRPC_ON_REST:
        raise GatewayError(
            415,
            "This path takes JSON (Content-Type: application/json), not gRPC; gRPC callers "
            "use the llm_gateway.v1 services.",
            code="unsupported_content_type",
        )
    data = body.data
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise invalid_request(complaint, code="invalid_json") from None
    # Cheap first: a body with fewer opening brackets than the limit cannot nest deeper.
    if data.count(b"{") + data.count(b"[") <= MAX_JSON_DEPTH:
        return value
    member = _too_deep(value)
    if member is not None:
        raise invalid_request(
            f"'{member}' is nested more than {MAX_JSON_DEPTH} levels deep.",
            member,
            "nesting_too_deep",
        )
    return value


async def error_answer(
    context: Context,
    dialect: Dialect,
    error: GatewayError,
    request_id: str,
    decisions: Decisions | None = None,
) -> HttpBody:
    """Sends the error's status and headers; returns its body."""
    deployment = decisions.deployment if decisions else None
    headers = framing.error_headers(error, request_id, deployment)
    if decisions is not None and not error.headers:
        headers += decisions.rate_limits  # a refusal of the limiter carries its own
    await context.send_initial_metadata(headers)
    return HttpBody(content_type=framing.JSON, data=dialect.error(error))


# A call's answer other than a generation: its JSON bytes and response headers.
Reply = tuple[bytes, tuple[tuple[str, str], ...]]


async def respond(
    context: Context,
    keys: KeyRing,
    dialect: Dialect,
    produce: Callable[[CallInfo, Mapping[str, str]], Awaitable[Reply]],
    inbound: InboundCall | None = None,
) -> HttpBody:
    """Serves one call that is not a generation (model lists, token counts): authenticates
    it, and returns `produce`'s JSON, or the error in the dialect's shape."""
    inbound = inbound or InboundCall(context, "rest")
    try:
        data, headers = await produce(await inbound.authenticate(keys), inbound.metadata)
    except GatewayError as error:
        return await error_answer(context, dialect, error, inbound.request_id)
    except Exception:
        log.exception("unexpected failure of request %s", inbound.request_id)
        return await error_answer(context, dialect, internal_error(), inbound.request_id)
    finally:
        inbound.finish()
    if headers:
        context.set_trailing_metadata(headers)  # as a generated answer's (see `generate`)
    return HttpBody(content_type=framing.JSON, data=data)


async def generate(
    context: Context,
    keys: KeyRing,
    dataplane: DataPlane,
    dialect: Dialect,
    parse: Callable[[Mapping[str, str]], GenerationRequest],
    inbound: InboundCall | None = None,
    load: Callable[[CallInfo], Awaitable[None]] | None = None,
) -> AsyncIterator[HttpBody]:
    """Serves one generation call (`parse` reads its request, given the call's headers,
    after `load`, if given, has read what parsing needs once the caller is known: the
    Responses API's stored turns); yields the response bodies."""
    inbound = inbound or InboundCall(context, "rest")
    decisions: Decisions | None = None
    try:
        call = await inbound.authenticate(keys)
        if load is not None:
            await load(call)
        request = parse(inbound.metadata)
        served = dataplane.serve(request, call)
        decisions = served.decisions
        if request.stream:
            frames = _stream(
                context, served.stream(), dialect, request, decisions, inbound.request_id
            )
            async for frame in frames:
                yield frame
            return
        answer = await served.answer()
        # With the status, not ahead of the answer: one gRPC send fewer (the proxy makes
        # the trailing metadata of a whole answer its headers).
        context.set_trailing_metadata(framing.success_headers(decisions))
        if isinstance(answer, WireAnswer):
            yield HttpBody(content_type=answer.content_type, data=dialect.relayed(answer))
        else:
            yield HttpBody(content_type=framing.JSON, data=dialect.answer(answer))
    except StreamCut:
        raise
    except GatewayError as error:
        yield await error_answer(context, dialect, error, inbound.request_id, decisions)
    except Exception:
        log.exception("unexpected failure of request %s", inbound.request_id)
        yield await error_answer(context, dialect, internal_error(), inbound.request_id, decisions)
    finally:
        inbound.finish()


async def whole(bodies: AsyncIterator[HttpBody]) -> HttpBody:
    """The answer of a generation call served by a unary RPC: `generate`'s one body. A
    stream asked for in a way the proxy did not see (an escaped `stream` key) is served
    whole: its frames joined, none lost."""
    parts = [body async for body in bodies]
    if len(parts) == 1:
        return parts[0]
    return HttpBody(content_type=parts[0].content_type, data=b"".join(part.data for part in parts))


def _error_frame(writer: StreamFramer | StreamEncoder, error: GatewayError) -> bytes:
    frame = writer.error(error)
    if frame is None:
        raise StreamCut(error)
    return frame


async def _stream(
    context: Context,
    chunks: AsyncGenerator[CanonicalChunk | WireEvent, None],
    dialect: Dialect,
    request: GenerationRequest,
    decisions: Decisions,
    request_id: str,
) -> AsyncIterator[HttpBody]:
    try:
        try:
            # Raises GatewayError before any byte is sent: the caller gets a real status.
            first = await anext(chunks)
        except StopAsyncIteration:
            first = None
        await context.send_initial_metadata(framing.stream_headers(decisions))
        # A stream is relayed or canonical throughout: its first chunk tells which.
        writer: StreamFramer | StreamEncoder
        if isinstance(first, WireEvent):
            writer = framer = dialect.framer()

            def write(chunk: CanonicalChunk | WireEvent) -> bytes:
                assert isinstance(chunk, WireEvent)
                return framer.event(chunk)
        else:
            writer = encoder = dialect.encoder(request)

            def write(chunk: CanonicalChunk | WireEvent) -> bytes:
                assert not isinstance(chunk, WireEvent)
                return encoder.chunk(chunk)

        opening = write(first) if first is not None else b""
        yield HttpBody(content_type=dialect.stream_content_type, data=opening)
        if first is not None:
            try:
                async for chunk in chunks:
                    if data := write(chunk):
                        yield HttpBody(data=data)
            except GatewayError as error:
                yield HttpBody(data=_error_frame(writer, error))
                return
            except Exception:
                log.exception("unexpected failure of request %s", request_id)
                yield HttpBody(data=_error_frame(writer, internal_error()))
                return
        yield HttpBody(data=writer.end())
    finally:
        await chunks.aclose()

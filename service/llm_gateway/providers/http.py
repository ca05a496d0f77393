"""The HTTP plumbing every upstream provider shares: a pooled aiohttp session, posting JSON,
reading whole answers and server-sent events, and mapping transport failures to errors."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import orjson

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.sse import EventTooLarge, SseDecoder

# What is read of an upstream's error body: its message is all that is used of it.
_MAX_ERROR_BODY = 64 * 1024
# The largest answer or streamed event relayed when a provider is built without a limit.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def json_object(payload: bytes) -> dict[str, Any]:
    """Parses an upstream JSON object, or raises a 502 `upstream_malformed_answer`."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise upstream_errors.malformed() from None
    if not isinstance(value, dict):
        raise upstream_errors.malformed()
    return value


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None (with the connection closed) when it is larger than `limit`."""
    if (response.content_length or 0) > limit:
        response.close()
        return None
    pieces, size = [], 0
    async for piece in response.content.iter_any():
        size += len(piece)
        if size > limit:
            response.close()
            return None
        pieces.append(piece)
    return b"".join(pieces)


async def events(
    response: aiohttp.ClientResponse,
    is_end: Callable[[bytes], bool] | None = None,
    max_event_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> AsyncGenerator[bytes, None]:
    """Yields the data of each server-sent event of a response body as it completes.

    The stream is complete at the event `is_end` accepts, or at the end of the body when there
    is no end marker; the connection then goes back to the pool. Anything else (caller gone,
    error) closes it at once, which is what makes the upstream stop generating and billing.
    Transport failures become the caller's errors, and so does an event larger than
    `max_event_bytes`.
    """
    decoder = SseDecoder(max_event_bytes)
    finished = False
    try:
        try:
            async for data in response.content.iter_any():
                for event in decoder.feed(data):
                    finished = is_end is not None and is_end(event)
                    yield event
                    if finished:
                        return
        except aiohttp.ClientPayloadError:
            # When the connection breaks, aiohttp raises before handing out the bytes it had
            # already received (StreamReader.readany checks for an error first). Those bytes
            # are complete events the upstream sent: relay them before reporting the break.
            for event in decoder.feed(bytes(b"".join(getattr(response.content, "_buffer", ())))):
                yield event
            raise
        for event in decoder.finish():
            yield event
        finished = is_end is None
    except TimeoutError:
        raise upstream_errors.timed_out() from None
    except aiohttp.ClientError:
        raise upstream_errors.stream_broken() from None
    except EventTooLarge:
        raise upstream_errors.too_large(max_event_bytes) from None
    finally:
        if finished:
            response.release()
        else:
            response.close()


async def chunks(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    """Yields a binary response body (speech audio) piece by piece as it arrives; complete
    at the end of the body. A connection that breaks first is a broken stream; anything else
    (caller gone, error) closes it at once, as `events` does."""
    finished = False
    try:
        async for data in response.content.iter_any():
            yield data
        finished = True
    except TimeoutError:
        raise upstream_errors.timed_out() from None
    except aiohttp.ClientError:
        raise upstream_errors.stream_broken() from None
    finally:
        if finished:
            response.release()
        else:
            response.close()


class HttpUpstream:
    """One provider's connection pool and the requests it sends."""

    def __init__(
        self,
        settings: ProviderSettings,
        headers: dict[str, str],
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        read_error: upstream_errors.ErrorReader = upstream_errors.openai_error_fields,
    ) -> None:
        self.settings = settings
        self.read_error = read_error  # the upstream API's own error bodies
        self.headers = {"content-type": "application/json", **headers, **settings.headers}
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the event loop that runs the server.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.settings.max_connections, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.settings.connect_timeout,
                    sock_read=self.settings.read_timeout,
                ),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def post(
        self,
        url: str,
        body: Mapping[str, Any] | bytes | aiohttp.FormData,
        call: UpstreamCall,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> aiohttp.ClientResponse:
        """Sends the request (a body given as bytes goes as it is, a form as
        `multipart/form-data`); an upstream error status raises its mapped `GatewayError`."""
        headers = {**self.headers, **dict(extra_headers), "x-request-id": call.request_id}
        data: bytes | aiohttp.FormData
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, aiohttp.FormData):
            data = body
            del headers["content-type"]  # the form's own, with its boundary
        else:
            data = orjson.dumps(body)
        if call.traceparent is not None:
            headers["traceparent"] = call.traceparent
        options: dict[str, Any] = {}
        if call.connect_timeout is not None:
            # Passing `timeout=None` would disable the session's timeouts: only pass one to
            # override them.
            options["timeout"] = aiohttp.ClientTimeout(
                total=None, sock_connect=call.connect_timeout, sock_read=self.settings.read_timeout
            )
        try:
            response = await self._client().post(
                url,
                data=data,
                headers=headers,
                **options,
            )
        except TimeoutError:
            raise upstream_errors.timed_out() from None
        except aiohttp.ClientError:
            raise upstream_errors.unreachable() from None
        if response.status >= 400:
            try:
                payload = await response.content.read(_MAX_ERROR_BODY)
            except (TimeoutError, aiohttp.ClientError):
                payload = b""
            finally:
                response.close()
            error = upstream_errors.error_from_upstream(
                response.status,
                payload,
                response.headers.get("retry-after"),
                self.settings.upstream_messages == "hidden",
                self.read_error,
            )
            if error.code == "upstream_auth_failed" and not self.settings.has_api_key:
                variable = self.settings.api_key_variable
                error = upstream_errors.no_api_key(variable)
            raise error
        return response

    async def post_for_json(
        self, url: str, body: Mapping[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        """Sends the request and returns the upstream's whole JSON answer."""
        return json_object(await self.post_for_bytes(url, body, call))

    async def post_for_bytes(
        self,
        url: str,
        body: Mapping[str, Any] | bytes | aiohttp.FormData,
        call: UpstreamCall,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """Sends the request and returns the upstream's whole answer as its bytes."""
        return await self._whole(await self.post(url, body, call, extra_headers))

    async def _whole(self, response: aiohttp.ClientResponse) -> bytes:
        try:
            payload = await _read_at_most(response, self.max_response_bytes)
        except TimeoutError:
            raise upstream_errors.timed_out() from None
        except aiohttp.ClientError:
            raise upstream_errors.unreachable() from None
        finally:
            response.release()
        if payload is None:
            raise upstream_errors.too_large(self.max_response_bytes)
        return payload

    async def post_for_count(
        self,
        url: str,
        body: Mapping[str, Any] | bytes,
        call: UpstreamCall,
        extra_headers: Iterable[tuple[str, str]],
        field: str,
        when_absent: int | None = None,
    ) -> tuple[int, bytes]:
        """Sends a token-counting request; returns the answer's integer `field` (or
        `when_absent`, for an API that leaves out a zero) and the answer as its bytes."""
        data = await self.post_for_bytes(url, body, call, extra_headers)
        tokens = json_object(data).get(field, when_absent)
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise upstream_errors.malformed()
        return tokens, data

    async def post_for_events(
        self,
        url: str,
        body: Mapping[str, Any] | bytes | aiohttp.FormData,
        call: UpstreamCall,
        is_end: Callable[[bytes], bool] | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> AsyncGenerator[bytes, None]:
        """Sends the request; returns the events of the upstream's stream (see `events`)."""
        response = await self.post(url, body, call, extra_headers)
        return events(response, is_end, self.max_response_bytes)

    async def post_for_events_or_bytes(
        self,
        url: str,
        body: Mapping[str, Any] | aiohttp.FormData,
        call: UpstreamCall,
        is_end: Callable[[bytes], bool] | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> AsyncGenerator[bytes, None] | bytes:
        """Sends a request that asks for a stream; returns its events, or the whole answer's
        bytes from an upstream that answered whole (a model that ignores `stream`)."""
        response = await self.post(url, body, call, extra_headers)
        if response.content_type == "text/event-stream":
            return events(response, is_end, self.max_response_bytes)
        return await self._whole(response)

    def event_object(self, payload: bytes) -> dict[str, Any]:
        """Parses one streamed event; an `{"error": ...}` event raises the caller's error."""
        event = json_object(payload)
        if event.get("error"):
            raise upstream_errors.error_in_stream(
                event, self.settings.upstream_messages == "hidden", self.read_error
            )
        return event

    async def aclose(self) -> None:
        """Closes the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

"""OpenAI-compatible upstreams (OpenAI, vLLM, Ollama, llama.cpp, ...), over pooled aiohttp.

Bodies go out as they came in (every modelled field and any pass-through extension) with the
upstream's model name; responses come back as plain data. Streams are decoded incrementally and
each chunk is yielded the moment its event is complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.model.request import Endpoint
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.sse import SseDecoder

_DONE = b"[DONE]"


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise upstream_errors.malformed() from None
    if not isinstance(value, dict):
        raise upstream_errors.malformed()
    return value


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yields the data of each server-sent event of a response body as it completes."""
    decoder = SseDecoder()
    try:
        async for data in response.content.iter_any():
            for event in decoder.feed(data):
                yield event
    except aiohttp.ClientPayloadError:
        # When the connection breaks, aiohttp raises before handing out the bytes it had
        # already received (StreamReader.readany checks for an error first). Those bytes are
        # complete events the upstream sent: relay them before reporting the break.
        for event in decoder.feed(bytes(b"".join(getattr(response.content, "_buffer", ())))):
            yield event
        raise
    for event in decoder.finish():
        yield event


class OpenAICompatibleProvider:
    """An upstream that speaks OpenAI's REST API."""

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._headers = {"content-type": "application/json", **settings.headers}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            self._headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the event loop that runs the server.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._settings.max_connections, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self._settings.connect_timeout,
                    sock_read=self._settings.read_timeout,
                ),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def _post(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> aiohttp.ClientResponse:
        url = f"{self._settings.base_url}/{endpoint.value}"
        headers = {**self._headers, "x-request-id": call.request_id}
        try:
            response = await self._client().post(url, data=orjson.dumps(body), headers=headers)
        except TimeoutError:
            raise upstream_errors.timed_out() from None
        except aiohttp.ClientError:
            raise upstream_errors.unreachable() from None
        if response.status >= 400:
            try:
                payload = await response.read()
            except (TimeoutError, aiohttp.ClientError):
                payload = b""
            finally:
                response.release()
            raise upstream_errors.error_from_upstream(
                response.status, payload, response.headers.get("retry-after")
            )
        return response

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        """Posts the request and returns the upstream's JSON answer."""
        response = await self._post(endpoint, body, call)
        try:
            payload = await response.read()
        except TimeoutError:
            raise upstream_errors.timed_out() from None
        except aiohttp.ClientError:
            raise upstream_errors.unreachable() from None
        finally:
            response.release()
        return _json_object(payload)

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncIterator[dict[str, Any]]:
        """Posts the request and yields each chunk of the upstream's event stream."""
        if self._settings.stream_usage:
            options = body.get("stream_options") or {}
            body = {**body, "stream_options": {**options, "include_usage": True}}
        response = await self._post(endpoint, body, call)
        finished = False
        try:
            async for event in _events(response):
                if event == _DONE:
                    finished = True
                    return
                yield self._chunk(event)
            raise upstream_errors.stream_broken()
        except TimeoutError:
            raise upstream_errors.timed_out() from None
        except aiohttp.ClientError:
            raise upstream_errors.stream_broken() from None
        finally:
            # An unfinished stream (caller gone, error) closes the connection at once, which
            # is what makes the upstream stop generating and billing.
            if finished:
                response.release()
            else:
                response.close()

    @staticmethod
    def _chunk(event: bytes) -> dict[str, Any]:
        chunk = _json_object(event)
        if chunk.get("error"):
            raise upstream_errors.error_in_stream(chunk)
        return chunk

    async def aclose(self) -> None:
        """Closes the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

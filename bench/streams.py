"""A streaming client for the benchmark: time to first token, delivery delay of every token,
gaps between tokens, and many streams held open at once.

Tokens come from `paced_upstream.py`, whose text `<index>@<send ns>` carries the upstream's
send time on the machine-wide monotonic clock, so each token's delay through a relay is measured
exactly. REST streams use one connection each; gRPC streams share a few channels. The
`anthropic` protocol streams through the gateway's Anthropic surface (`/v1/messages`) from the
same OpenAI-format upstream: a translated stream, where `rest` is passed through; `responses`
through the Responses API (`/v1/responses`), also translated.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import grpc

from llm_gateway.v1 import chat_pb2, llm_gateway_service_pb2_grpc

TOKEN = re.compile(rb"(\d+)@(\d+) ")
TOKEN_TEXT = re.compile(r"(\d+)@(\d+) ")


@dataclass
class StreamRun:
    """What one stream delivered."""

    ttfb_ms: float = 0.0  # to the first chunk (for the paced upstream, the role chunk)
    ttft_ms: float = 0.0  # to the first content token
    delays_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    tokens: int = 0
    received_ns: list[int] = field(default_factory=list)
    done: bool = False
    error: str | None = None


@dataclass
class Client:
    """Streams from one system: `rest` or `anthropic` at a base URL, or `grpc` at host:port."""

    protocol: str
    address: str
    key: str
    _session: aiohttp.ClientSession | None = None
    _channels: list[grpc.aio.Channel] = field(default_factory=list)
    _next: int = 0

    async def __aenter__(self) -> Client:
        if self.protocol in ("rest", "anthropic", "responses"):
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False),
                timeout=aiohttp.ClientTimeout(total=None, sock_read=60),
            )
        else:
            self._channels = [grpc.aio.insecure_channel(self.address) for _ in range(8)]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
        for channel in self._channels:
            await channel.close()

    async def stream(self, model: str) -> StreamRun:
        run = StreamRun()
        started = time.monotonic_ns()
        last = started
        try:
            async for token, sent in self._tokens(model):
                received = time.monotonic_ns()
                if not run.ttfb_ms:
                    run.ttfb_ms = (received - started) / 1e6
                if token < 0:
                    continue
                if run.tokens == 0:
                    run.ttft_ms = (received - started) / 1e6
                else:
                    run.gaps_ms.append((received - last) / 1e6)
                run.delays_ms.append((received - sent) / 1e6)
                run.received_ns.append(received)
                if token != run.tokens:
                    run.error = f"token {run.tokens} missing"
                run.tokens += 1
                last = received
            run.done = True
        except (TimeoutError, aiohttp.ClientError, grpc.RpcError) as exc:
            code = exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else ""
            run.error = f"{type(exc).__name__} {code} {exc.details() if code else ''}".strip()
        return run

    async def _tokens(self, model: str):  # type: ignore[no-untyped-def]
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "count"}]}
        if self.protocol == "anthropic":
            headers = {"x-api-key": self.key, "anthropic-version": "2023-06-01"}
            body["max_tokens"] = 4096
            async for item in self._sse_tokens("messages", body, headers, None, b"event: error"):
                yield item
            return
        if self.protocol == "responses":
            headers = {"authorization": f"Bearer {self.key}"}
            request = {"model": model, "stream": True, "input": "count", "store": False}
            # Only the deltas carry one token; the done events repeat the whole text.
            tokens = self._sse_tokens(
                "responses",
                request,
                headers,
                None,
                b"event: error",
                b'"response.output_text.delta"',
            )
            async for item in tokens:
                yield item
            return
        if self._session is not None:
            headers = {"authorization": f"Bearer {self.key}"}
            tokens = self._sse_tokens(
                "chat/completions", body, headers, b"data: [DONE]", b'data: {"error"'
            )
            async for item in tokens:
                yield item
            return
        channel = self._channels[self._next % len(self._channels)]
        self._next += 1
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        request = chat_pb2.ChatCompletionRequest(
            model=model, messages=[chat_pb2.ChatMessage(role="user", text="count")]
        )
        call = stub.StreamChatCompletion(
            request, metadata=(("authorization", f"Bearer {self.key}"),)
        )
        async for chunk in call:
            match = TOKEN_TEXT.search(chunk.choices[0].delta.content) if chunk.choices else None
            if match:
                yield int(match.group(1)), int(match.group(2))
            else:
                yield -1, 0

    async def _sse_tokens(  # type: ignore[no-untyped-def]
        self,
        path: str,
        body: dict[str, object],
        headers: dict[str, str],
        end: bytes | None,
        error: bytes,
        token_lines: bytes | None = None,
    ):
        """The tokens of one REST stream: (index, send ns) per token, (-1, 0) for any other
        event; the stream ends at the line starting with `end` (or the body's end), and a line
        starting with `error` is a failure. With `token_lines`, only lines holding it carry
        tokens."""
        assert self._session is not None
        async with self._session.post(
            f"{self.address}/{path}", json=body, headers=headers
        ) as response:
            response.raise_for_status()
            async for line in response.content:
                counted = token_lines is None or token_lines in line
                match = TOKEN.search(line) if counted else None
                if match:
                    yield int(match.group(1)), int(match.group(2))
                elif end is not None and line.startswith(end):
                    return
                elif line.startswith(error):
                    raise aiohttp.ClientPayloadError(line.decode())
                elif line.startswith(b"data: "):
                    yield -1, 0


async def sequential(client: Client, model: str, count: int) -> list[StreamRun]:
    """Runs count streams one after another."""
    return [await client.stream(model) for _ in range(count)]


async def hold(
    client: Client,
    model: str,
    streams: int,
    ramp_seconds: float,
    window_seconds: float,
    at_window: Callable[[str], Awaitable[None]],
) -> list[StreamRun]:
    """Opens `streams` streams over `ramp_seconds`, then, while all are open and no stream
    starts or ends, calls at_window("start") and, window_seconds later, at_window("end");
    returns once every stream has ended."""

    async def delayed(index: int) -> StreamRun:
        await asyncio.sleep(ramp_seconds * index / streams)
        return await client.stream(model)

    tasks = [asyncio.create_task(delayed(i)) for i in range(streams)]
    await asyncio.sleep(ramp_seconds + 0.5)
    await at_window("start")
    await asyncio.sleep(window_seconds)
    await at_window("end")
    return list(await asyncio.gather(*tasks))

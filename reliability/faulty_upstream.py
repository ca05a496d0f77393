"""An upstream that fails on purpose, in the OpenAI, Anthropic and Gemini wire formats.

The upstream model name is `<fault>` and picks what goes wrong; a stream sends `PIECES`
pieces of text (`t0 `, `t1 `, ...) and, for a fault after the first byte, fails after
`FAULT_AFTER` of them:
- `drop`: the connection is closed (FIN) without the stream's end.
- `rst`: the connection is reset (RST).
- `stall`: nothing more is sent (the gateway's idle timeout must end it).
- `malformed`: an event that is not JSON.
- `error-event`: the family's in-stream error event.
- `oversize`: one event larger than `OVERSIZE` bytes.
Before the first byte:
- `status-429` (with `Retry-After: 1`), `status-500`, `status-503`, `status-529`: an error
  answer in the family's shape.
- `hang`: the request is read and no header is ever sent.
And `ok` streams to its end, `paced` sends its pieces 250 ms apart (a stream of 2.5 s, which
outlasts the start of a burst of callers) and `slow` sends a piece every 20 ms for 20 s (for
cancellation).

Each request is counted by its `x-request-id`, with the moment the upstream saw its
connection close, so a caller can check that nothing was retried after the first byte and
that cancelled work stopped upstream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PIECES = 10
FAULT_AFTER = 3
OVERSIZE = 2 * 1024 * 1024
STREAM_FAULTS = ("drop", "rst", "stall", "malformed", "error-event", "oversize")
STATUS_FAULTS = ("status-429", "status-500", "status-503", "status-529", "hang")
FAMILIES = ("openai", "anthropic", "gemini")


@dataclass
class Seen:
    """What the upstream saw of one request id."""

    attempts: int = 0
    closed_at: float | None = None


@dataclass
class FaultyUpstream:
    """The running upstream (in a thread of its own); `url(family)` goes into the config."""

    port: int = 0
    seen: dict[str, Seen] = field(default_factory=lambda: defaultdict(Seen))
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, family: str) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return {
            "openai": f"{root}/v1",
            "anthropic": f"{root}/anthropic/v1",
            "gemini": f"{root}/gemini/v1beta",
        }[family]

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the faulty upstream did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def get(self, request_id: str) -> Seen:
        with self._lock:
            return self.seen.get(request_id) or Seen()

    def wait_closed(self, request_id: str, limit: float) -> float | None:
        """The moment the upstream saw the request's connection close, waiting up to `limit`."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            closed = self.get(request_id).closed_at
            if closed is not None:
                return closed
            time.sleep(0.001)
        return None

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/anthropic/v1/messages", self._anthropic)
        app.router.add_post("/gemini/v1beta/models/{call}", self._gemini)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._serve(request, body["model"], "openai", bool(body.get("stream")))

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._serve(request, body["model"], "anthropic", bool(body.get("stream")))

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        model, _, method = request.match_info["call"].partition(":")
        return await self._serve(request, model, "gemini", method == "streamGenerateContent")

    async def _serve(
        self, request: web.Request, fault: str, family: str, stream: bool
    ) -> web.StreamResponse:
        request_id = request.headers.get("x-request-id", "")
        with self._lock:
            self.seen[request_id].attempts += 1
        try:
            if fault == "hang":
                await asyncio.sleep(3600)
            if fault.startswith("status-"):
                status = int(fault.removeprefix("status-"))
                headers = {"retry-after": "1"} if status == 429 else {}
                return web.json_response(
                    _error_body(family, status), status=status, headers=headers
                )
            if not stream:
                return web.json_response(_whole(family))
            return await self._stream(request, fault, family)
        finally:
            with self._lock:
                self.seen[request_id].closed_at = time.monotonic()

    async def _stream(self, request: web.Request, fault: str, family: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        events = _events(family)
        await response.write(events.start())
        count = 20 * 50 if fault == "slow" else PIECES
        pause = {"slow": 0.02, "paced": 0.25}.get(fault)
        for index in range(count):
            if index == FAULT_AFTER and fault in STREAM_FAULTS:
                await self._fail(request, response, fault, family)
                return response
            await response.write(events.piece(f"t{index % PIECES} "))
            if pause is not None:
                await asyncio.sleep(pause)
        await response.write(events.end())
        return response

    async def _fail(
        self, request: web.Request, response: web.StreamResponse, fault: str, family: str
    ) -> None:
        transport = request.transport
        if fault == "drop" and transport is not None:
            transport.close()
        elif fault == "rst" and transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.close()
        elif fault == "stall":
            await asyncio.sleep(3600)
        elif fault == "malformed":
            await response.write(b"data: {not json\n\n")
        elif fault == "error-event":
            await response.write(_events(family).error())
        elif fault == "oversize":
            await response.write(_events(family).piece("x" * OVERSIZE))


def _error_body(family: str, status: int) -> dict[str, Any]:
    message = f"scripted failure {status}"
    if family == "anthropic":
        kinds = {429: "rate_limit_error", 529: "overloaded_error"}
        return {
            "type": "error",
            "error": {"type": kinds.get(status, "api_error"), "message": message},
        }
    if family == "gemini":
        return {"error": {"code": status, "message": message, "status": "UNAVAILABLE"}}
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def _whole(family: str) -> dict[str, Any]:
    text = "".join(f"t{i} " for i in range(PIECES))
    if family == "anthropic":
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": PIECES},
        }
    if family == "gemini":
        return {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": PIECES},
        }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": PIECES, "total_tokens": 3 + PIECES},
    }


class _Events:
    def start(self) -> bytes:
        return b""

    def piece(self, text: str) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        raise NotImplementedError

    def error(self) -> bytes:
        raise NotImplementedError


def _sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


class _OpenAI(_Events):
    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [choice],
        }

    def piece(self, text: str) -> bytes:
        return _sse(self._chunk({"content": text}))

    def end(self) -> bytes:
        usage = {"prompt_tokens": 3, "completion_tokens": PIECES, "total_tokens": 3 + PIECES}
        final = {**self._chunk({}, "stop")}
        usage_chunk = {**self._chunk({}), "choices": [], "usage": usage}
        return _sse(final) + _sse(usage_chunk) + b"data: [DONE]\n\n"

    def error(self) -> bytes:
        return _sse(
            {
                "error": {
                    "message": "scripted in-stream failure",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )


class _Anthropic(_Events):
    def start(self) -> bytes:
        message = {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }  # fmt: skip
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        return _sse({"type": "message_start", "message": message}, "message_start") + _sse(
            block, "content_block_start"
        )

    def piece(self, text: str) -> bytes:
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
        return _sse(delta, "content_block_delta")

    def end(self) -> bytes:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": PIECES},
        }
        return (
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            + _sse(delta, "message_delta")
            + _sse({"type": "message_stop"}, "message_stop")
        )

    def error(self) -> bytes:
        return _sse(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "error",
        )


class _Gemini(_Events):
    def piece(self, text: str) -> bytes:
        return _sse(
            {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]}
        )

    def end(self) -> bytes:
        return _sse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": ""}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": PIECES},
            }
        )

    def error(self) -> bytes:
        return _sse(
            {
                "error": {
                    "code": 503,
                    "message": "scripted in-stream failure",
                    "status": "UNAVAILABLE",
                }
            }
        )


def _events(family: str) -> _Events:
    return {"openai": _OpenAI, "anthropic": _Anthropic, "gemini": _Gemini}[family]()

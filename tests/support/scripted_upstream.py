"""A scripted upstream: a test double of OpenAI's wire format (its Responses API too: see
`scripted_responses`), and, under `/anthropic` and `/gemini`, of Anthropic's and Gemini's
(see `scripted_anthropic` and `scripted_gemini`).

It runs an aiohttp server on loopback in a thread of its own, so that synchronous clients (the
`openai` SDK, `requests`) and asyncio tests can share it. The upstream model name picks the
behaviour, so one instance serves every scenario:

- `echo`: answers with the last user message (chat) or the prompt (completions), one word per
  stream chunk; honours `n`, `max_tokens` (finish `length`), `stop`, `logprobs`,
  `top_logprobs`, `echo`, `tools` (a streamed tool call, unless the last turn is its
  result), `stream_options.include_usage`.
- `fail-midstream`: two chunks, then the connection is cut without `[DONE]`.
- `error-in-stream`: one chunk, then an in-stream `{"error": ...}` event.
- `rate-limited`, `server-error`, `unavailable`, `bad-request`, `unauthorized`: the upstream's
  error answers.
- `hang`: answers after 3 s, longer than a short `read_timeout`.
- `garbage`: a 200 whose body (or first event) is not JSON.
- `slow`: a chunk every 20 ms for 10 s, for cancellation tests (whole: the answer after 10 s).
- `paced`: twenty chunks 50 ms apart, a stream that outlives a quick test step (whole: 1 s).

Embeddings (`/v1/embeddings`, Gemini's `:embedContent` and `:batchEmbedContents`): see
`scripted_embeddings`; moderations (`/v1/moderations`): `scripted_moderations`; images
(`/v1/images/*`): `scripted_images`; speech (`/v1/audio/speech`): `scripted_speech`;
transcriptions and translations: `scripted_transcriptions`.

Every request is recorded with its body and headers, and for streams the moment the upstream
saw the connection close, so tests can check what was forwarded and when work stopped.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support import (
    agent_task,
    scripted_anthropic,
    scripted_embeddings,
    scripted_gemini,
    scripted_images,
    scripted_moderations,
    scripted_responses,
    scripted_speech,
    scripted_transcriptions,
)

CREATED = 1_700_000_000


@dataclass
class Recorded:
    """One request as the upstream saw it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    closed_at: float | None = None
    completed: bool = False
    raw: bytes = b""  # the body's bytes as they arrived


@dataclass
class ScriptedUpstream:
    """The running upstream; `base_url` goes into the gateway config."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/anthropic/v1"

    @property
    def gemini_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gemini/v1beta"

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("scripted upstream did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def last(self) -> Recorded:
        with self._lock:
            return self.requests[-1]

    def find(self, request_id: str) -> Recorded | None:
        with self._lock:
            for recorded in self.requests:
                if recorded.headers.get("x-request-id") == request_id:
                    return recorded
        return None

    def wait_closed(self, request_id: str, limit: float = 5.0) -> Recorded:
        """Waits until the upstream saw the stream of request_id close; returns its record."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            recorded = self.find(request_id)
            if recorded is not None and recorded.closed_at is not None:
                return recorded
            time.sleep(0.002)
        raise AssertionError(f"the upstream call {request_id} was still open after {limit}s")

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        # Larger than aiohttp's 1 MiB: OpenAI's uploads take 25 MB (refused above that).
        app = web.Application(client_max_size=scripted_transcriptions.MAX_FILE_BYTES * 2)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/moderations", self._moderations)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcript)
        app.router.add_post("/v1/audio/translations", self._transcript)
        app.router.add_post("/v1/images/generations", self._image_generations)
        app.router.add_post("/v1/images/edits", self._image_form)
        app.router.add_post("/v1/images/variations", self._image_form)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/responses/input_tokens", self._responses_count)
        app.router.add_post("/v1/responses/compact", self._responses_compact)
        app.router.add_post("/anthropic/v1/messages", self._anthropic)
        app.router.add_post("/anthropic/v1/messages/count_tokens", self._anthropic_count)
        app.router.add_post("/gemini/v1beta/models/{call}", self._gemini)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        recorded = Recorded(
            request.path,
            json.loads(raw),
            {k.lower(): v for k, v in request.headers.items()},
            raw=raw,
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        return await self._serve(request, recorded, chat=True)

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await scripted_anthropic.handle(request, await self._record(request))

    async def _anthropic_count(self, request: web.Request) -> web.StreamResponse:
        return await scripted_anthropic.count(request, await self._record(request))

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        if method == "countTokens":
            return await scripted_gemini.count(await self._record(request))
        if method in ("embedContent", "batchEmbedContents"):
            recorded = await self._record(request)
            return scripted_embeddings.gemini(
                recorded.body, model, batch=method == "batchEmbedContents"
            )
        stream = method == "streamGenerateContent" and request.query.get("alt") == "sse"
        return await scripted_gemini.handle(request, await self._record(request), model, stream)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        refused = scripted_responses.refusal(recorded.body)
        if refused is not None:
            return refused
        answer = scripted_responses.answer(recorded.body)
        if not recorded.body.get("stream"):
            return web.json_response(answer)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in scripted_responses.events(answer):
            await response.write(scripted_responses.sse(event))
        recorded.completed = True
        return response

    async def _responses_compact(self, request: web.Request) -> web.StreamResponse:
        return scripted_responses.compact((await self._record(request)).body)

    async def _responses_count(self, request: web.Request) -> web.StreamResponse:
        return scripted_responses.count((await self._record(request)).body)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        return scripted_embeddings.openai((await self._record(request)).body)

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        response = await scripted_speech.speech(request, recorded.body)
        recorded.completed = True
        return response

    async def _transcript(self, request: web.Request) -> web.StreamResponse:
        """A transcription or translation, recorded with its fields and its file's digest."""
        recorded = Recorded(request.path, {}, {k.lower(): v for k, v in request.headers.items()})
        with self._lock:
            self.requests.append(recorded)
        try:
            response = await scripted_transcriptions.answer(request, recorded.body)
            recorded.completed = (
                request.transport is not None and not request.transport.is_closing()
            )
        finally:
            recorded.closed_at = time.monotonic()
        return response

    async def _image_generations(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        return await scripted_images.generations(request, recorded.body)

    async def _image_form(self, request: web.Request) -> web.StreamResponse:
        """An image edit or variation: recorded with its fields and its files' digests."""
        fields, files = await scripted_images.read_form(request)
        recorded = Recorded(
            request.path,
            {**fields, "files": files},
            {k.lower(): v for k, v in request.headers.items()},
        )
        with self._lock:
            self.requests.append(recorded)
        if request.path.endswith("/edits"):
            return await scripted_images.edits(request, fields, files)
        return await scripted_images.variations(fields, files)

    async def _moderations(self, request: web.Request) -> web.StreamResponse:
        return scripted_moderations.answer((await self._record(request)).body)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        return await self._serve(request, recorded, chat=False)

    async def _serve(
        self, request: web.Request, recorded: Recorded, chat: bool
    ) -> web.StreamResponse:
        body = recorded.body
        model = body["model"]
        if model == "hang":
            await asyncio.sleep(3)
        if model in ERRORS:
            status, payload, headers = ERRORS[model]
            return web.json_response(payload, status=status, headers=headers)
        if model == "large":  # an answer of `max_tokens` bytes of text, in one piece
            return await _large(request, body)
        if model == "garbage" and not body.get("stream"):
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        if not body.get("stream"):
            if model in PACED:  # as slow whole as streamed, watching for the caller leaving
                return await _paced_whole(request, recorded, chat)
            return web.json_response(whole_answer(body, chat))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            if model == "garbage":
                await response.write(b"data: {broken\n\n")
                return response
            for index, chunk in enumerate(stream_chunks(body, chat)):
                if model == "fail-midstream" and index == 2:
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if model == "error-in-stream" and index == 1:
                    error = {
                        "error": {
                            "message": "The server had an error while processing your request.",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    }
                    await response.write(sse(error))
                    return response
                await response.write(sse(chunk))
                if model in PACED:
                    await asyncio.sleep(PACED[model][1])
            await response.write(b"data: [DONE]\n\n")
            recorded.completed = True
        finally:
            recorded.closed_at = time.monotonic()
        return response


ERRORS: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {
    "rate-limited": (
        429,
        {
            "error": {
                "message": "Rate limit reached for requests",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        {"retry-after": "7"},
    ),
    "server-error": (
        500,
        {
            "error": {
                "message": "internal detail: /srv/model.py line 12",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        },
        {},
    ),
    "unavailable": (
        503,
        {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}},
        {},
    ),
    "bad-request": (
        400,
        {
            "error": {
                "message": "'messages' is too long",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
        {},
    ),
    "leaky": (
        400,
        {
            "error": {
                "message": "Invalid 'temperature': expected at most 2 (loaded from "
                "/srv/inference/config.yaml via http://10.2.3.4:8000/internal with key "
                "sk-live-abcdef0123456789abcdef)\nTraceback (most recent call last):\n"
                '  File "/srv/inference/server.py", line 12, in handle',
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "invalid_value",
            }
        },
        {},
    ),
    "unauthorized": (
        401,
        {
            "error": {
                "message": "Incorrect API key provided: sk-up***",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        {},
    ),
}


async def _paced_whole(request: web.Request, recorded: Recorded, chat: bool) -> web.StreamResponse:
    count, interval = PACED[recorded.body["model"]]
    deadline = time.monotonic() + count * interval
    try:
        while time.monotonic() < deadline:
            if request.transport is None or request.transport.is_closing():
                return web.Response()  # nobody to answer
            await asyncio.sleep(interval)
        recorded.completed = True
        return web.json_response(whole_answer(recorded.body, chat))
    finally:
        recorded.closed_at = time.monotonic()


async def _large(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    text = "x" * int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
    message = {"role": "assistant", "content": text}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    answer = {"id": "chatcmpl-large", "object": "chat.completion", "created": 1, "model": "large"}
    if not body.get("stream"):
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return web.json_response({**answer, "choices": [choice], "usage": usage})
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    chunk = {**answer, "object": "chat.completion.chunk"}
    await response.write(sse({**chunk, "choices": [{"index": 0, "delta": message}]}))
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    await response.write(sse({**chunk, "choices": [finish]}))
    await response.write(b"data: [DONE]\n\n")
    return response


# Paced scenarios: (chunks, seconds between chunks).
PACED = {"slow": (500, 0.02), "paced": (20, 0.05)}


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _source_text(body: dict[str, Any], chat: bool) -> str:
    if chat and body["model"] == "agent" and body["messages"][-1]["role"] == "tool":
        return f"result: {body['messages'][-1]['content']}"
    if chat:
        for message in reversed(body["messages"]):
            if message["role"] == "user":
                content = message["content"]
                if isinstance(content, list):
                    return " ".join(p.get("text", "") for p in content)
                return str(content)
        return "hello"
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        return " ".join(str(p) for p in prompt)
    return str(prompt)


def _words(body: dict[str, Any], chat: bool) -> tuple[list[str], str]:
    """The generated words and the finish reason."""
    if body["model"] in PACED:
        return [f"w{i} " for i in range(PACED[body["model"]][0])], "stop"
    words = [w + " " for w in _source_text(body, chat).split()] or ["ok "]
    words[-1] = words[-1].rstrip()
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    for index, word in enumerate(words):
        if any(s in word for s in stops):
            return words[:index], "stop"
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit is not None and limit < len(words):
        return words[:limit], "length"
    return words, "stop"


def _usage(body: dict[str, Any], chat: bool, completion_tokens: int) -> dict[str, Any]:
    prompt_tokens = len(_source_text(body, chat).split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _chat_logprobs(words: list[str], top: int) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": w,
                "logprob": -0.5,
                "bytes": list(w.encode()),
                "top_logprobs": [
                    {"token": w, "logprob": -0.5, "bytes": list(w.encode())},
                    {"token": "x", "logprob": -2.0, "bytes": [120]},
                ][:top],
            }
            for w in words
        ],
        "refusal": None,
    }


def _text_logprobs(words: list[str], top: int, offset: int) -> dict[str, Any]:
    offsets, position = [], offset
    for word in words:
        offsets.append(position)
        position += len(word)
    return {
        "tokens": words,
        "token_logprobs": [-0.5 for _ in words],
        "top_logprobs": [{w: -0.5, "x": -2.0} if top > 1 else {w: -0.5} for w in words],
        "text_offset": offsets,
    }


def _agent_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """A coding agent's first turn naming a `.txt` file: a call of its file-reading tool."""
    tool = agent_task.reader([tool["function"]["name"] for tool in body.get("tools") or ()])
    path = agent_task.path_asked_for(body["messages"])
    if tool is None or path is None or any(m["role"] == "tool" for m in body["messages"]):
        return None
    arguments = json.dumps(agent_task.arguments(tool, path))
    return {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": arguments}}


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    if body["model"] == "agent":
        return _agent_call(body)
    if not body.get("tools") or body.get("tool_choice") == "none":
        return None
    if body["messages"][-1]["role"] == "tool":  # the call was answered: the model answers too
        return None
    choice = body.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    name = named or body["tools"][0]["function"]["name"]  # a named choice is the one called
    return {
        "id": "call_1",
        "type": "function",
        "function": {"name": name, "arguments": '{"city": "Paris"}'},
    }


def whole_answer(body: dict[str, Any], chat: bool) -> dict[str, Any]:
    words, finish = _words(body, chat)
    text = "".join(words)
    n = body.get("n") or 1
    if not chat:
        if body.get("echo"):
            text = str(body.get("prompt", "")) + text
        choices = [
            {
                "text": text,
                "index": i,
                "finish_reason": finish,
                "logprobs": (
                    _text_logprobs(words, body["logprobs"], 0)
                    if body.get("logprobs") is not None
                    else None
                ),
            }
            for i in range(n)
        ]
        return {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": CREATED,
            "model": body["model"],
            "system_fingerprint": "fp_1",
            "choices": choices,
            "usage": _usage(body, chat, len(words) * n),
        }
    call = _tool_call(body)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if call else text,
        "refusal": None,
        "annotations": [],
    }
    if call:
        message["tool_calls"] = [call]
        finish = "tool_calls"
    choices = [
        {
            "index": i,
            "message": message,
            "finish_reason": finish,
            "logprobs": (
                _chat_logprobs(words, body.get("top_logprobs") or 0)
                if body.get("logprobs")
                else None
            ),
        }
        for i in range(n)
    ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": body["model"],
        "system_fingerprint": "fp_1",
        "service_tier": "default",
        "choices": choices,
        "usage": _usage(body, chat, len(words) * n),
    }


def stream_chunks(body: dict[str, Any], chat: bool) -> list[dict[str, Any]]:
    words, finish = _words(body, chat)
    n = body.get("n") or 1
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    usage = _usage(body, chat, len(words) * n)
    chunks: list[dict[str, Any]] = []
    if not chat:
        base = {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": CREATED,
            "model": body["model"],
            "system_fingerprint": "fp_1",
        }
        for word in words:
            for i in range(n):
                chunks.append(
                    {
                        **base,
                        "choices": [
                            {"text": word, "index": i, "finish_reason": None, "logprobs": None}
                        ],
                    }
                )
        for i in range(n):
            chunks.append(
                {
                    **base,
                    "choices": [
                        {"text": "", "index": i, "finish_reason": finish, "logprobs": None}
                    ],
                }
            )
        if include_usage:
            chunks.append({**base, "choices": [], "usage": usage})
        return chunks
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": body["model"],
        "system_fingerprint": "fp_1",
        "service_tier": "default",
    }
    extra = {"usage": None} if include_usage else {}
    call = _tool_call(body)
    top = body.get("top_logprobs") or 0
    for i in range(n):
        chunks.append(
            {
                **base,
                **extra,
                "choices": [
                    {
                        "index": i,
                        "delta": {
                            "role": "assistant",
                            "content": "" if not call else None,
                            "refusal": None,
                        },
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
        )
    if call:
        arguments = call["function"]["arguments"]
        pieces = [arguments[:5], arguments[5:12], arguments[12:]]
        for i in range(n):
            chunks.append(
                {
                    **base,
                    **extra,
                    "choices": [
                        {
                            "index": i,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": call["id"],
                                        "type": "function",
                                        "function": {
                                            "name": call["function"]["name"],
                                            "arguments": "",
                                        },
                                    }
                                ]
                            },
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
            for piece in pieces:
                chunks.append(
                    {
                        **base,
                        **extra,
                        "choices": [
                            {
                                "index": i,
                                "delta": {
                                    "tool_calls": [{"index": 0, "function": {"arguments": piece}}]
                                },
                                "logprobs": None,
                                "finish_reason": None,
                            }
                        ],
                    }
                )
        finish = "tool_calls"
    else:
        for word in words:
            for i in range(n):
                chunks.append(
                    {
                        **base,
                        **extra,
                        "choices": [
                            {
                                "index": i,
                                "delta": {"content": word},
                                "logprobs": _chat_logprobs([word], top)
                                if body.get("logprobs")
                                else None,
                                "finish_reason": None,
                            }
                        ],
                    }
                )
    for i in range(n):
        chunks.append(
            {
                **base,
                **extra,
                "choices": [{"index": i, "delta": {}, "logprobs": None, "finish_reason": finish}],
            }
        )
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks

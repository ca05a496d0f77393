"""A scripted Anthropic Messages API upstream: a test double of Anthropic's wire format.

Served by `ScriptedUpstream` under `/anthropic/v1/messages`. The event sequence follows
Anthropic's streaming reference: `message_start`, then per content block
`content_block_start`, `content_block_delta` (`text_delta` or `input_json_delta`) and
`content_block_stop`, a `ping`, then `message_delta` (stop reason and output usage) and
`message_stop`. The upstream model name picks the behaviour:

- `echo`: answers with the last user text one word per `text_delta`; honours `max_tokens`
  (`max_tokens`), `stop_sequences` (`stop_sequence`), `tools` (a `tool_use` block whose input
  streams in five `input_json_delta` pieces; a forced tool gets it too), and answers a turn of
  `tool_result` blocks with `result: <content>`. Usage counts words, with two cache-read tokens.
- `overloaded`: 529 `overloaded_error`. `rate-limited`: 429 with `retry-after`.
  `bad-request`: 400 `invalid_request_error`.
- `error-in-stream`: one text delta, then an `error` event.
- `slow`: a text delta every 20 ms for 10 s.
- `agent`: a coding agent's first turn naming a `.txt` file gets a call of its file-reading
  tool (`Read` or `read_file`) for it; the turn with its result gets `result: <content>`.

With `thinking` enabled the answer starts with a thinking block (streamed as `thinking_delta`
then `signature_delta`). Bodies are checked as the real API checks them: the top-level fields
are those of the `anthropic` SDK's request type (its beta type's when an `anthropic-beta`
header is sent), validated by that type; with `thinking` enabled, an assistant turn holding a
`tool_use` must start with the signed thinking block it came with.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import pydantic
from aiohttp import web
from anthropic.types import message_count_tokens_params, message_create_params
from anthropic.types.beta import message_count_tokens_params as beta_count_tokens_params
from anthropic.types.beta import message_create_params as beta_message_create_params

from tests.support import agent_task

if TYPE_CHECKING:
    from tests.support.scripted_upstream import Recorded

TOOL_INPUT = {"city": "Paris", "unit": "celsius"}
ERRORS = {
    "overloaded": (529, "overloaded_error", "Overloaded", {}),
    "rate-limited": (
        429,
        "rate_limit_error",
        "Number of requests has exceeded your rate limit",
        {"retry-after": "7"},
    ),
    "bad-request": (
        400,
        "invalid_request_error",
        "messages: text content blocks must be non-empty",
        {},
    ),
}


THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "sig-EqQBCkYIBxgC"}
# Sampling fields the API takes that the SDK's request type no longer lists.
_SAMPLING = frozenset(("temperature", "top_p", "top_k", "stream"))
_FIELDS = frozenset(message_create_params.MessageCreateParamsBase.__annotations__) | _SAMPLING
_BETA_FIELDS = (
    frozenset(beta_message_create_params.MessageCreateParamsBase.__annotations__) | _SAMPLING
) - {"betas"}  # the SDK sends those as the `anthropic-beta` header
_REQUEST = pydantic.TypeAdapter(beta_message_create_params.MessageCreateParamsBase)


def refusal(body: Any, headers: dict[str, str]) -> str | None:
    """The real API's 400 message for a body it would not accept, else None."""
    allowed = _BETA_FIELDS if "anthropic-beta" in headers else _FIELDS
    for name in body:
        if name not in allowed:
            return f"{name}: Extra inputs are not permitted"
    try:
        _REQUEST.validate_python({k: v for k, v in body.items() if k not in _SAMPLING})
    except pydantic.ValidationError as invalid:
        return str(invalid).splitlines()[1]
    if (body.get("thinking") or {}).get("type") == "enabled":
        for index, turn in enumerate(body["messages"]):
            blocks = turn["content"] if isinstance(turn["content"], list) else []
            uses_tools = any(b.get("type") == "tool_use" for b in blocks)
            if turn["role"] == "assistant" and uses_tools and blocks[0]["type"] != "thinking":
                return (
                    f"messages.{index}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{blocks[0]['type']}`. When `thinking` is "
                    "enabled, a final `assistant` message must start with a thinking block."
                )
            if uses_tools and blocks[0].get("signature") != THINKING["signature"]:
                return f"messages.{index}.content.0: Invalid `signature` in `thinking` block"
    return None


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        results = [b for b in content if b["type"] == "tool_result"]
        if results:
            return "result: " + " ".join(str(r.get("content", "")) for r in results)
        return " ".join(b.get("text", "") for b in content if b["type"] == "text")
    return "hello"


def _plan(body: dict[str, Any]) -> tuple[list[str], str, str | None, dict[str, Any] | None]:
    """(text pieces, stop reason, stop sequence, tool to call)."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    last = body["messages"][-1]
    answered = isinstance(last["content"], list) and any(
        b["type"] == "tool_result" for b in last["content"]
    )
    if body["model"] == "agent" and not answered:
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        path = agent_task.path_asked_for(users)
        name = agent_task.reader([tool.get("name") for tool in tools])
        if path is not None and name is not None:
            tool = {"id": "toolu_01", "name": name, "input": agent_task.arguments(name, path)}
            return [], "tool_use", None, tool
    elif tools and choice["type"] != "none" and not answered:
        name = choice.get("name") or tools[0]["name"]
        return [], "tool_use", None, {"id": "toolu_01", "name": name, "input": TOOL_INPUT}
    if body["model"] == "slow":
        return [f"w{i} " for i in range(500)], "end_turn", None, None
    if body["model"] == "large":  # one text delta of `max_tokens` bytes
        return ["x" * body["max_tokens"]], "end_turn", None, None
    words = [w + " " for w in _last_user_text(body).split()] or ["ok "]
    words[-1] = words[-1].rstrip()
    for index, word in enumerate(words):
        for stop in body.get("stop_sequences") or ():
            if stop in word:
                return words[:index], "stop_sequence", stop, None
    if len(words) > body["max_tokens"]:
        return words[: body["max_tokens"]], "max_tokens", None, None
    return words, "end_turn", None, None


def _usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    return {
        "input_tokens": len(_last_user_text(body).split()),
        "output_tokens": output,
        "cache_read_input_tokens": 2,
        "cache_creation_input_tokens": 0,
    }


def whole_message(body: dict[str, Any]) -> dict[str, Any]:
    words, stop_reason, stop_sequence, tool = _plan(body)
    content: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") == "enabled":
        content.append(THINKING)
    if words:
        content.append({"type": "text", "text": "".join(words)})
    if tool:
        content.append({"type": "tool_use", **tool})
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": _usage(body, len(words) or 5),
    }


def stream_events(body: dict[str, Any]) -> list[bytes]:
    words, stop_reason, stop_sequence, tool = _plan(body)
    start = {**whole_message(body), "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**start["usage"], "output_tokens": 1}
    events = [event("message_start", {"message": start})]
    index = 0
    if (body.get("thinking") or {}).get("type") == "enabled":
        block = {"type": "thinking", "thinking": "", "signature": ""}
        events.append(event("content_block_start", {"index": 0, "content_block": block}))
        for delta in (
            {"type": "thinking_delta", "thinking": THINKING["thinking"]},
            {"type": "signature_delta", "signature": THINKING["signature"]},
        ):
            events.append(event("content_block_delta", {"index": 0, "delta": delta}))
        events.append(event("content_block_stop", {"index": 0}))
        index = 1
    if words:
        text = {"type": "text", "text": ""}
        events.append(event("content_block_start", {"index": index, "content_block": text}))
        events.append(event("ping", {}))
        for word in words:
            events.append(
                event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "text_delta", "text": word}},
                )
            )
        events.append(event("content_block_stop", {"index": index}))
        index += 1
    if tool:
        block = {"type": "tool_use", **tool, "input": {}}
        events.append(event("content_block_start", {"index": index, "content_block": block}))
        arguments = json.dumps(tool["input"])
        size = -(-len(arguments) // 5)
        for at in range(0, len(arguments), size):
            delta = {"type": "input_json_delta", "partial_json": arguments[at : at + size]}
            events.append(event("content_block_delta", {"index": index, "delta": delta}))
        events.append(event("content_block_stop", {"index": index}))
    usage = {"output_tokens": len(words) or 5}
    events.append(
        event(
            "message_delta",
            {"delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence}, "usage": usage},
        )
    )
    events.append(event("message_stop", {}))
    return events


_COUNT_FIELDS = frozenset(message_count_tokens_params.MessageCountTokensParams.__annotations__)
_BETA_COUNT_FIELDS = frozenset(beta_count_tokens_params.MessageCountTokensParams.__annotations__)


def counted_tokens(body: dict[str, Any]) -> int:
    """What the double counts for a request: a token per word of its text, plus 7."""
    return 7 + len(json.dumps([body.get("system"), body["messages"]]).split())


async def count(request: web.Request, recorded: Recorded) -> web.StreamResponse:
    """`POST /v1/messages/count_tokens`: its own fields only (no `max_tokens`, no `stream`)."""
    body = recorded.body
    allowed = _BETA_COUNT_FIELDS if "anthropic-beta" in recorded.headers else _COUNT_FIELDS
    extra = sorted(set(body) - allowed)
    if extra or "messages" not in body:
        message = (
            f"{extra[0]}: Extra inputs are not permitted" if extra else "messages: Field required"
        )
        payload = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        return web.json_response(payload, status=400)
    return web.json_response({"input_tokens": counted_tokens(body)})


async def handle(request: web.Request, recorded: Recorded) -> web.StreamResponse:
    body = recorded.body
    model = body["model"]
    refused = refusal(body, recorded.headers)
    if refused is not None:
        payload = {"type": "error", "error": {"type": "invalid_request_error", "message": refused}}
        return web.json_response(payload, status=400)
    if model in ERRORS:
        status, kind, message, headers = ERRORS[model]
        payload = {"type": "error", "error": {"type": kind, "message": message}}
        return web.json_response(payload, status=status, headers=headers)
    if not body.get("stream"):
        return web.json_response(whole_message(body))
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    try:
        for number, data in enumerate(stream_events(body)):
            if model == "error-in-stream" and number == 4:
                error = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
                await response.write(event("error", error))
                return response
            await response.write(data)
            if model == "slow":
                await asyncio.sleep(0.02)
        recorded.completed = True
    finally:
        recorded.closed_at = time.monotonic()
    return response

"""Canonical (OpenAI chat) stream chunks as the Responses API's semantic events.

Every event is a named SSE event with a `sequence_number`. The stream opens with
`response.created` and `response.in_progress`; each kind of content the chunks carry
(reasoning, text, a refusal, each tool call) is an output item of its own, opened with
`response.output_item.added` (and `response.content_part.added` for a part), filled by its
delta events and closed by its done events when the next item begins or the stream ends.
The stream ends with exactly one terminal event: `response.completed`, `response.incomplete`
(the upstream stopped at the token limit or its content filter) or, after a failure,
`error` then `response.failed`. The encoder keeps the response as it was sent, every item
whole, for the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.responses.response import (
    ResponseDraft,
    call_item,
    error_fields,
    message_item,
    new_id,
    reasoning_item,
    shown,
    shown_response,
    text_part,
)
from llm_gateway.errors import GatewayError
from llm_gateway.model.canonical import (
    CanonicalChunk,
    CompletionUsage,
    ToolCallDelta,
    as_chat_chunk,
)

# One event as the API defines it: its `type`, its members and its `sequence_number`.
Event = dict[str, Any]


def framed(events: list[Event]) -> bytes:
    """Events as named SSE events."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )


class _Item:
    """The output item being streamed: its kind, id, place and what it has gathered."""

    __slots__ = ("arguments", "call_id", "id", "index", "kind", "name", "signature", "text")

    def __init__(self, kind: str, item_id: str, index: int) -> None:
        self.kind = kind  # reasoning, text, refusal or a tool call's index as "call:N"
        self.id = item_id
        self.index = index
        self.text: list[str] = []
        self.signature: str | None = None
        self.call_id = ""
        self.name = ""
        self.arguments: list[str] = []


class ResponsesStreamEncoder:
    """Writes one stream of canonical chunks as the Responses API's events."""

    def __init__(self, draft: ResponseDraft) -> None:
        self._draft = draft
        self._sequence = 0
        self._started = False
        self._open: _Item | None = None
        self._output: list[dict[str, Any]] = []
        self._usage: CompletionUsage | None = None
        self._finish: str | None = None
        self.final: dict[str, Any] | None = None  # the response as ended, items whole

    def _event(self, kind: str, payload: dict[str, Any]) -> Event:
        event = {"type": kind, **payload, "sequence_number": self._sequence}
        self._sequence += 1
        return event

    def _start(self) -> list[Event]:
        self._started = True
        opening = self._shown(self._draft.object("in_progress", []))
        return [
            self._event("response.created", {"response": opening}),
            self._event("response.in_progress", {"response": opening}),
        ]

    def _shown(self, response: dict[str, Any]) -> dict[str, Any]:
        return shown_response(response, self._draft.include)

    def chunk(self, chunk: CanonicalChunk) -> bytes:
        return framed(self.events(chunk))

    def error(self, error: GatewayError) -> bytes:
        return framed(self.failure(error))

    def end(self) -> bytes:
        return framed(self.ending())

    def events(self, chunk: CanonicalChunk) -> list[Event]:
        """The events one chunk makes (none, often, or several)."""
        chat = as_chat_chunk(chunk)  # this surface asks only for chats
        out = [] if self._started else self._start()
        if chat.get("usage"):
            self._usage = chat["usage"]
        for choice in chat.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if text := delta.get("reasoning_content"):
                out += self._reasoning(text)
            if signature := delta.get("reasoning_signature"):
                out += self._switch("reasoning")
                assert self._open is not None
                self._open.signature = signature
            if text := delta.get("content"):
                out += self._text("text", text)
            if text := delta.get("refusal"):
                out += self._text("refusal", text)
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
            if finish := choice.get("finish_reason"):
                self._finish = finish
        return out

    def failure(self, error: GatewayError) -> list[Event]:
        """The events that end a stream that failed: `error`, then `response.failed`."""
        out = [] if self._started else self._start()
        out += self._close()
        out.append(self._event("error", error_fields(error)))
        self.final = self._draft.object("failed", self._output, self._usage, error)
        out.append(self._event("response.failed", {"response": self._shown(self.final)}))
        return out

    def ending(self) -> list[Event]:
        """The events that end a stream that completed."""
        out = [] if self._started else self._start()
        out += self._close()
        self.final = self._draft.object("completed", self._output, self._usage, None, self._finish)
        kind = (
            "response.incomplete" if self.final["status"] == "incomplete" else "response.completed"
        )
        out.append(self._event(kind, {"response": self._shown(self.final)}))
        return out

    def _switch(self, kind: str) -> list[Event]:
        """Opens an item of `kind` unless it is the open one, closing the open one."""
        if self._open is not None and self._open.kind == kind:
            return []
        out = self._close()
        prefix = {"reasoning": "rs", "text": "msg", "refusal": "msg"}.get(kind, "fc")
        item = self._open = _Item(kind, new_id(prefix), len(self._output))
        if kind == "reasoning":
            added: dict[str, Any] = {"id": item.id, "type": "reasoning", "summary": []}
            out.append(self._added(added))
        elif kind in ("text", "refusal"):
            out.append(self._added(message_item(item.id, [], "in_progress")))
            part = text_part("") if kind == "text" else {"type": "refusal", "refusal": ""}
            out.append(self._event("response.content_part.added", self._part(part)))
        return out

    def _added(self, item: dict[str, Any], index: int | None = None) -> Event:
        """`response.output_item.added` for the open item (or the one at `index`)."""
        if index is None:
            assert self._open is not None
            index = self._open.index
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _part(self, part: dict[str, Any]) -> dict[str, Any]:
        assert self._open is not None
        return {
            "item_id": self._open.id,
            "output_index": self._open.index,
            "content_index": 0,
            "part": part,
        }

    def _place(self) -> dict[str, Any]:
        assert self._open is not None
        return {"item_id": self._open.id, "output_index": self._open.index}

    def _reasoning(self, text: str) -> list[Event]:
        out = self._switch("reasoning")
        assert self._open is not None
        if not self._open.text:
            part = {"type": "reasoning_text", "text": ""}
            out.append(self._event("response.content_part.added", self._part(part)))
        self._open.text.append(text)
        payload = {**self._place(), "content_index": 0, "delta": text}
        out.append(self._event("response.reasoning_text.delta", payload))
        return out

    def _text(self, kind: str, text: str) -> list[Event]:
        out = self._switch(kind)
        assert self._open is not None
        self._open.text.append(text)
        payload: dict[str, Any] = {**self._place(), "content_index": 0, "delta": text}
        if kind == "text":
            payload["logprobs"] = []
            out.append(self._event("response.output_text.delta", payload))
        else:
            out.append(self._event("response.refusal.delta", payload))
        return out

    def _call(self, call: ToolCallDelta) -> list[Event]:
        function = call.get("function") or {}
        out = self._switch(f"call:{call.get('index', 0)}")
        item = self._open
        assert item is not None
        if not item.call_id and (call.get("id") or function.get("name")):
            item.call_id = call.get("id") or ""
            item.name = function.get("name") or ""
            added = self._call_item(item, "", "in_progress")
            out.append(self._added(added))
        if arguments := function.get("arguments"):
            item.arguments.append(arguments)
            payload = {**self._place(), "delta": arguments}
            out.append(self._event("response.function_call_arguments.delta", payload))
        return out

    def _call_item(self, item: _Item, arguments: str, status: str) -> dict[str, Any]:
        namespaces = self._draft.namespaces
        return call_item(item.id, item.call_id, item.name, arguments, status, namespaces)

    def _close(self) -> list[Event]:
        """Ends the open item with its done events, and keeps it whole."""
        item, self._open = self._open, None
        if item is None:
            return []
        place = {"item_id": item.id, "output_index": item.index}
        text = "".join(item.text)
        out = []
        if item.kind == "reasoning":
            whole = reasoning_item(item.id, text, item.signature)
            if text:
                part = {"type": "reasoning_text", "text": text}
                done = {**place, "content_index": 0}
                out.append(self._event("response.reasoning_text.done", {**done, "text": text}))
                out.append(self._event("response.content_part.done", {**done, "part": part}))
        elif item.kind in ("text", "refusal"):
            part = text_part(text) if item.kind == "text" else {"type": "refusal", "refusal": text}
            done = {**place, "content_index": 0}
            if item.kind == "text":
                out.append(
                    self._event("response.output_text.done", {**done, "text": text, "logprobs": []})
                )
            else:
                out.append(self._event("response.refusal.done", {**done, "refusal": text}))
            out.append(self._event("response.content_part.done", {**done, "part": part}))
            whole = message_item(item.id, [part], "completed")
        else:
            arguments = "".join(item.arguments)
            if not item.call_id:  # the upstream sent arguments before naming the call
                out.append(self._added(self._call_item(item, "", "in_progress"), item.index))
            whole = self._call_item(item, arguments, "completed")
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    {**place, "name": whole["name"], "arguments": arguments},
                )
            )
        self._output.append(whole)
        shown_item = shown([whole], self._draft.include)[0]
        out.append(
            self._event(
                "response.output_item.done", {"output_index": item.index, "item": shown_item}
            )
        )
        return out

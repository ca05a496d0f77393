"""Responses relayed from an upstream that speaks the Responses API (`responses_api: native`).

The upstream is sent the whole conversation with `store: false` (the gateway keeps the
state), so its answer says what it was sent, not what the caller asked: the object is given
back the caller's model name, `store`, `previous_response_id` and `conversation`, and its
reasoning items' `encrypted_content` only when the caller asked to include it (the gateway
always asks, to carry the reasoning to the next turn). Events that carry neither a response
nor an item are relayed as their bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from llm_gateway.api.responses import compaction
from llm_gateway.api.responses.response import (
    ENCRYPTED_REASONING,
    ResponseDraft,
    conversation_id,
    error_fields,
    shown,
    shown_response,
)
from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning

_RESPONSE_EVENTS = frozenset(
    (
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    )
)
_TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))
_ITEM_EVENTS = frozenset(("response.output_item.added", "response.output_item.done"))
# What the gateway handles itself, never sent to a native upstream.
_STATE = ("previous_response_id", "conversation", "background", "store")


def upstream_body(
    wire: Mapping[str, Any], inputs: Sequence[dict[str, Any]], earlier: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The body a native upstream is sent: the whole conversation as input, nothing stored.

    Reasoning that another family's upstream signed is left out (only the gateway can read
    it); the rest goes as the store keeps it, ids included (as clients that keep their own
    state, such as Codex, send them)."""
    body = {name: value for name, value in wire.items() if name not in _STATE}
    body["input"] = [
        _readable(item)
        for item in (*earlier, *inputs)
        if not (item.get("type") == "reasoning" and _minted(item))
    ]
    body["store"] = False
    body["include"] = sorted({*(wire.get("include") or ()), ENCRYPTED_REASONING})
    return body


def _readable(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a native upstream can read it: a compaction the gateway made is the user
    turn it stands for."""
    summary = compaction.summary_of(item.get("encrypted_content"))
    if item.get("type") != "compaction" or summary is None:
        return item
    text = compaction.SUMMARY_INTRODUCTION + summary
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _minted(item: Mapping[str, Any]) -> bool:
    return reasoning.is_minted(item.get("encrypted_content"))


class RelayedResponse:
    """One relayed response: its object and events as the caller gets them."""

    def __init__(self, draft: ResponseDraft, background: bool = False) -> None:
        self._draft = draft
        # A background response keeps the id it was queued (and is polled) with.
        self._background = background
        self._sequence = 0
        self.final: dict[str, Any] | None = None  # the response as it ended, items whole

    def _restored(self, response: dict[str, Any]) -> dict[str, Any]:
        """The upstream's object with what the caller asked for put back."""
        wire = self._draft.request
        restored = {
            **response,
            "model": wire.get("model"),
            "store": wire.get("store", True) is not False,
            "previous_response_id": wire.get("previous_response_id"),
            "background": self._background,
        }
        if self._background:
            restored["id"] = self._draft.id
        conversation = conversation_id(wire.get("conversation"))
        if conversation is not None:
            restored["conversation"] = {"id": conversation}
        return restored

    def answer(self, data: bytes) -> dict[str, Any]:
        """A whole answer as shown to the caller (`final` keeps it whole)."""
        self.final = self._restored(orjson.loads(data))
        return shown_response(self.final, self._draft.include)

    def event(self, data: bytes, kind: str) -> bytes:
        """One event's data as the caller gets it."""
        # Only events with a response, or with an item whose reasoning state the caller may
        # not be shown, are read.
        hidden = kind in _ITEM_EVENTS and b'"encrypted_content"' in data
        if kind not in _RESPONSE_EVENTS and not hidden:
            self._sequence += 1
            return data
        event = orjson.loads(data)
        self._sequence = int(event.get("sequence_number", self._sequence)) + 1
        if kind in _ITEM_EVENTS:
            event["item"] = shown([event["item"]], self._draft.include)[0]
            return orjson.dumps(event)
        response = self._restored(event["response"])
        self._draft.id = response["id"]  # a failure reported later names the same id
        if kind in _TERMINAL:
            self.final = response
        event["response"] = shown_response(response, self._draft.include)
        return orjson.dumps(event)

    def failure(self, error: GatewayError) -> list[dict[str, Any]]:
        """The events that end a relayed stream that broke: `error`, then `response.failed`."""
        self.final = self._draft.object("failed", [], None, error)
        events: list[dict[str, Any]] = [
            {"type": "error", **error_fields(error)},
            {"type": "response.failed", "response": self.final},
        ]
        for event in events:
            event["sequence_number"] = self._sequence
            self._sequence += 1
        return events

"""The Responses API's operations, on JSON objects as the API defines them: what both the REST
surface and the typed gRPC service do, each converting its own messages.

A create call is validated by the API's own schema; with `previous_response_id` (or
`conversation`) the earlier turns are read from the store (only the caller's own), and the
whole conversation goes to the model's provider as a canonical chat request. Unless `store`
is false, the response is stored as it ended, before its last byte reaches the caller, so
that a retrieve or a next turn made as soon as the answer arrives finds it. A background
response is stored `queued`, then run in a task of its own (see `background`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any, cast

import orjson

from llm_gateway.api.responses import compaction, items
from llm_gateway.api.responses import request as translate
from llm_gateway.api.responses.background import CANCEL_POLL_SECONDS, BackgroundRuns
from llm_gateway.api.responses.conversations import not_found as conversation_not_found
from llm_gateway.api.responses.event_log import EventLog
from llm_gateway.api.responses.events import ResponseEvents, final_of
from llm_gateway.api.responses.owners import owner_of
from llm_gateway.api.responses.relayed import upstream_body
from llm_gateway.api.responses.response import (
    ResponseDraft,
    conversation_id,
    error_fields,
    shown_response,
)
from llm_gateway.dataplane import CallInfo, DataPlane, TokenCount
from llm_gateway.errors import GatewayError, internal_error, invalid_request, shutting_down
from llm_gateway.model import Endpoint, GenerationRequest, RequestValidator
from llm_gateway.model.canonical import ChatRequest, as_chat
from llm_gateway.model.request import Translation
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireRequest
from llm_gateway.store.base import ResponsesState
from llm_gateway.store.responses import StoredResponse

log = logging.getLogger(__name__)
# What a native upstream's `/responses/compact` is sent.
_COMPACTED = ("model", "input", "instructions")
_PURGE_EVERY = 3600.0  # seconds between deletions of expired responses (reads skip them anyway)


def as_chat_request(body: Any) -> ChatRequest:
    """A Responses API translation's body: always a chat request."""
    return cast(ChatRequest, body)


def not_found(response_id: str) -> GatewayError:
    """The 404 of a response the caller has not stored (or that expired)."""
    return GatewayError(404, f"Response with id '{response_id}' not found.", code="not_found")


@dataclasses.dataclass(slots=True)
class Turn:
    """A create call, validated, with what it continues: its body, whose it is, the
    conversation it adds to, its input as whole items, and the earlier items."""

    wire: dict[str, Any]
    owner: str
    conversation: str | None
    inputs: list[dict[str, Any]]
    earlier: list[dict[str, Any]]

    def draft(self) -> ResponseDraft:
        """A new response for this call."""
        return ResponseDraft(self.wire, translate.namespaced(self.wire.get("tools") or ()))

    def generation(self) -> GenerationRequest:
        """The data plane's request: translated for most upstreams; as a native upstream
        takes it (the whole conversation, nothing stored there) for the others. It is
        translated only for an upstream that needs it: what only a native upstream can do
        (its built-in tools) is refused there, with the 400 naming it, not before."""
        wire_body, inputs, earlier = self.wire, self.inputs, self.earlier
        body = upstream_body(wire_body, inputs, earlier)
        wire = WireRequest(
            ApiFamily.RESPONSES, "responses", body, b"", bool(self.wire.get("stream"))
        )
        return GenerationRequest(
            Endpoint.CHAT,
            wire=wire,
            translate=lambda: translate.translation(wire_body, inputs, earlier),
            sizing=translate.sizing(wire_body, inputs, earlier),
        )


class ResponsesOperations:
    """Creates, stores, reads, cancels and deletes responses."""

    def __init__(
        self,
        dataplane: DataPlane,
        validator: RequestValidator,
        store: ResponsesState,
        retention_seconds: float,
        runs: BackgroundRuns,
    ) -> None:
        self.dataplane = dataplane
        self._validator = validator
        self._store = store
        self._retention = retention_seconds
        self._runs = runs
        self._next_purge = 0.0

    async def turn(self, body: Any, call: CallInfo) -> Turn:
        """Validates a create (or count) call's body and reads the turns it continues."""
        wire = self._validator.response(body)
        owner = owner_of(call.caller)
        earlier: list[dict[str, Any]] = []
        previous = wire.get("previous_response_id")
        given = wire.get("conversation")
        conversation = None
        if previous and given is not None:
            raise invalid_request(
                "Give either 'previous_response_id' or 'conversation', not both.",
                "conversation",
            )
        if previous:
            chain = await self._store.response_chain(previous, owner, time.time())
            if not chain:
                raise invalid_request(
                    f"Previous response with id '{previous}' not found.",
                    "previous_response_id",
                    "previous_response_not_found",
                )
            earlier = items.conversation(chain)
        if given is not None:
            conversation = conversation_id(given) or ""
            if await self._store.get_conversation(conversation, owner) is None:
                raise conversation_not_found(conversation, "conversation")
            kept = await self._store.conversation_items(conversation)
            earlier = [orjson.loads(item) for item in kept]
        inputs = items.input_items(wire.get("input"), earlier)
        return Turn(wire, owner, conversation, inputs, earlier)

    async def compact(self, turn: Turn, call: CallInfo) -> bytes:
        """A `response.compaction` of the turn's conversation: a native upstream's own, or
        the gateway's, summarised by the model (see `compaction`); nothing is stored."""
        wire_body, inputs, earlier = turn.wire, turn.inputs, turn.earlier
        native = upstream_body(wire_body, inputs, earlier)
        sent = {name: native[name] for name in _COMPACTED if name in native}
        wire = WireRequest(ApiFamily.RESPONSES, "responses/compact", sent, b"", False)

        def summarised() -> Translation:
            chat = translate.translation({**wire_body, "stream": False}, inputs, earlier)
            return Translation(compaction.summary_request(as_chat_request(chat.body)), chat.dropped)

        generation = GenerationRequest(
            Endpoint.CHAT,
            wire=wire,
            translate=summarised,
            sizing=translate.sizing(wire_body, inputs, earlier),
        )
        answer = await self.dataplane.serve(generation, call).answer()
        if isinstance(answer, WireAnswer):
            return answer.data
        return orjson.dumps(compaction.compacted(as_chat(answer), int(time.time())))

    async def count(self, turn: Turn, call: CallInfo) -> TokenCount:
        """The input tokens of a create call: counted by a native upstream of the model
        (`responses_api: native`), otherwise estimated."""
        return await self.dataplane.count_tokens(turn.generation(), call)

    async def keep(self, turn: Turn, final: dict[str, Any]) -> None:
        """Adds a response's input and output to its conversation, and stores it as it
        ended, unless the caller asked for none to be."""
        try:
            if turn.conversation is not None:
                added = [*turn.inputs, *final["output"]]
                rows = [(str(item.get("id", "")), orjson.dumps(item).decode()) for item in added]
                await self._store.add_conversation_items(turn.conversation, rows)
            if turn.wire.get("store") is not False:
                await self._put(turn, final)
        except Exception as exc:  # the answer is made: the caller still gets it
            log.error("response %s could not be stored: %s", final["id"], type(exc).__name__)

    async def _put(self, turn: Turn, response: dict[str, Any]) -> None:
        now = time.time()
        stored = StoredResponse(
            response["id"],
            turn.owner,
            turn.wire.get("previous_response_id"),
            float(response["created_at"]),
            now + self._retention,
            orjson.dumps(response).decode(),
            orjson.dumps(turn.inputs).decode(),
        )
        await self._store.put_response(stored)
        if now >= self._next_purge:
            self._next_purge = now + _PURGE_EVERY
            await self._store.purge_responses(now)

    async def start_background(
        self, turn: Turn, call: CallInfo
    ) -> tuple[dict[str, Any], EventLog | None]:
        """Stores a background response `queued` and starts its run; returns it as shown,
        and for a streamed one the log of its events."""
        if turn.wire.get("store") is False:
            raise invalid_request(
                "Background responses are stored: 'store' cannot be false with them.", "store"
            )
        draft = turn.draft()
        queued = draft.object("queued", [])
        await self._put(turn, queued)
        generation = turn.generation()
        log = None
        if turn.wire.get("stream"):
            log = self._runs.keep_events(draft.id, turn.owner)
            self._runs.start(draft.id, self._run_streamed(turn, draft, generation, call, log))
        else:
            self._runs.start(draft.id, self._run(turn, draft, generation, call))
        return shown_response(queued, draft.include), log

    async def events_of(self, response_id: str, call: CallInfo) -> EventLog:
        """The events of a caller's streamed background response run here, while they are
        kept; a 404 for a response it has not, a 400 naming `stream` for one without them."""
        events = self._runs.log_of(response_id)
        if events is None or events.owner != owner_of(call.caller):
            await self._stored(response_id, call)  # the caller's, or a 404
            raise invalid_request(
                "The events of this response are not kept here: only a streamed background "
                "response's are, on the gateway that runs it, until a while after it ends. "
                "Retrieve it without 'stream'.",
                "stream",
            )
        return events

    def _ended(self, draft: ResponseDraft, failure: BaseException) -> GatewayError | None:
        """Why a run ended early: None for a cancel, otherwise the error to record."""
        if isinstance(failure, asyncio.CancelledError):
            return None if self._runs.was_cancelled(draft.id) else shutting_down()
        if isinstance(failure, GatewayError):
            return failure
        log.error("unexpected failure of background response %s", draft.id, exc_info=failure)
        return internal_error()

    async def _run(
        self, turn: Turn, draft: ResponseDraft, generation: GenerationRequest, call: CallInfo
    ) -> None:
        """Generates a background response and stores it as it ended: completed, failed
        (with the error, a shutdown's included) or cancelled."""
        await self._put(turn, draft.object("in_progress", []))
        watching = asyncio.create_task(self._watch_for_cancel(draft.id, turn.owner))
        try:
            answer = await self.dataplane.serve(generation, call).answer()
            final = final_of(draft, answer, background=True)
        except (asyncio.CancelledError, Exception) as failure:
            error = self._ended(draft, failure)
            final = draft.object("cancelled" if error is None else "failed", [], None, error)
        finally:
            watching.cancel()
        await self.keep(turn, final)

    async def _run_streamed(
        self,
        turn: Turn,
        draft: ResponseDraft,
        generation: GenerationRequest,
        call: CallInfo,
        events: EventLog,
    ) -> None:
        """A background response generated as a stream: its events go to `events` as they
        come, whoever follows them (or none); it is stored as it ended, before its last
        event is added."""
        await self._put(turn, draft.object("in_progress", []))
        watching = asyncio.create_task(self._watch_for_cancel(draft.id, turn.owner))
        made = ResponseEvents(draft, background=True)
        last: list[dict[str, Any]] = []
        try:
            chunks = self.dataplane.serve(generation, call).stream()
            try:
                async for chunk in chunks:
                    produced = made.of(chunk)
                    if made.final is not None:
                        last = produced  # the terminal event: after the store's write
                    else:
                        events.add(produced)
            finally:
                await chunks.aclose()
            last += made.ending()
            final = made.final
        except (asyncio.CancelledError, Exception) as failure:
            error = self._ended(draft, failure)
            if error is None:
                final = draft.object("cancelled", [])
                # The API has no terminal event for a cancel: its followers are told so.
                after = events.events[-1]["sequence_number"] + 1 if events.events else 0
                message = "The response was cancelled."
                cancelled = GatewayError(409, message, code="response_cancelled")
                last = [{"type": "error", **error_fields(cancelled), "sequence_number": after}]
            else:
                last = made.failure(error)
                final = made.final
        finally:
            watching.cancel()
        if final is not None:
            await self.keep(turn, final)
        events.add(last)

    async def _watch_for_cancel(self, response_id: str, owner: str) -> None:
        """Cancels a run here when a cancel reached another replica (it wrote the status)."""
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            with contextlib.suppress(Exception):  # a store that hiccups: asked again soon
                stored = await self._store.get_response(response_id, owner, time.time())
                if stored is not None and orjson.loads(stored.response)["status"] == "cancelled":
                    self._runs.cancel(response_id)
                    return

    async def cancel(self, response_id: str, call: CallInfo) -> dict[str, Any]:
        """Cancels a background response that is queued or in progress (here, or through
        the store on the replica that runs it); returns it as it is then."""
        stored = await self._stored(response_id, call)
        response = orjson.loads(stored.response)
        if not response.get("background"):
            raise invalid_request(
                "Only background responses can be cancelled.", None, "not_cancellable"
            )
        if response["status"] in ("queued", "in_progress"):
            response["status"] = "cancelled"
            changed = orjson.dumps(response).decode()
            await self._store.put_response(dataclasses.replace(stored, response=changed))
            self._runs.cancel(response_id)
        return shown_response(response, ())

    async def get(self, response_id: str, call: CallInfo, include: Iterable[str]) -> dict[str, Any]:
        """A stored response of the caller's, as shown with `include`."""
        stored = await self._stored(response_id, call)
        return shown_response(orjson.loads(stored.response), include)

    async def delete(self, response_id: str, call: CallInfo) -> dict[str, Any]:
        """Deletes a stored response of the caller's."""
        if not await self._store.delete_response(response_id, owner_of(call.caller)):
            raise not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(
        self, response_id: str, call: CallInfo, after: str, limit: int | None, order: str
    ) -> dict[str, Any]:
        """A `list` page of a stored response's input items."""
        size, direction = items.page_request(limit, order)
        stored = await self._stored(response_id, call)
        return items.page(orjson.loads(stored.input_items), after, size, direction)

    async def _stored(self, response_id: str, call: CallInfo) -> StoredResponse:
        stored = await self._store.get_response(response_id, owner_of(call.caller), time.time())
        if stored is None:
            raise not_found(response_id)
        return stored

"""OpenAI-compatible upstreams (OpenAI, vLLM, Ollama, llama.cpp, ...).

Bodies go out as they came in (every modelled field and any pass-through extension) with the
upstream's model name; responses come back as plain data. Streams are decoded incrementally and
each chunk is yielded the moment its event is complete. OpenAI callers are served by `relay`:
the answer and each event are relayed as their bytes, read only for usage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

import aiohttp
import orjson

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.model import embeddings
from llm_gateway.model.canonical import (
    CanonicalAnswer,
    CanonicalChunk,
    CanonicalRequest,
    EmbeddingList,
    EmbeddingRequest,
)
from llm_gateway.model.request import Endpoint
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent, WireRequest
from llm_gateway.providers import batched, upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpUpstream,
    chunks,
    json_object,
)
from llm_gateway.usage.accounting import (
    Usage,
    image_kind,
    images_usage_of,
    pieces_of,
    responses_usage_of,
    transcript_usage_of,
    usage_of,
)

_DONE = b"[DONE]"
# The operations of the image APIs (`images/generations`, `images/edits`, ...), and the
# others whose calls go their own way (read once: an enum's `.value` costs a lookup each time).
_IMAGES = "images/"
_EMBEDDINGS = Endpoint.EMBEDDINGS.value
_SPEECH = Endpoint.SPEECH.value
_TRANSCRIPTS = frozenset((Endpoint.TRANSCRIPTIONS.value, Endpoint.TRANSLATIONS.value))
# The transcript formats that are not JSON: OpenAI sends them as plain text.
_TEXT_FORMATS = frozenset(("text", "srt", "vtt"))
_TEXT = "text/plain; charset=utf-8"
_TRANSCRIPT_DONE = "transcript.text.done"
# The members of a Responses API request that its token count takes.
_COUNTED = frozenset(
    (
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "reasoning",
        "truncation",
    )
)
# The events that end a Responses API stream, and those that carry one piece of output.
_TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))
_PIECES = frozenset(
    (
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
    )
)


def _is_done(event: bytes) -> bool:
    return event == _DONE


def _transcript_json(data: bytes, wire: WireRequest) -> dict[str, Any] | None:
    """A whole transcript's JSON; None for one asked for as text, SRT or VTT."""
    return None if wire.body.get("response_format") in _TEXT_FORMATS else json_object(data)


def _transcript(data: bytes, wire: WireRequest) -> WireAnswer:
    """A transcription's or translation's whole answer: its JSON, or its text, SRT or VTT
    under the media type OpenAI gives them."""
    parsed = _transcript_json(data, wire)
    usage = transcript_usage_of(parsed)
    return WireAnswer(data, usage) if parsed is not None else WireAnswer(data, usage, _TEXT)


class OpenAICompatibleProvider:
    """An upstream that speaks OpenAI's REST API."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "openai"
    family = ApiFamily.OPENAI
    passthrough = True

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.name = name
        self._settings = settings
        headers = {}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = HttpUpstream(settings, headers, max_response_bytes)
        # The callers' APIs whose requests this upstream takes as they are (see `relay`).
        self.relays = frozenset(
            (ApiFamily.OPENAI, ApiFamily.RESPONSES)
            if settings.responses_api == "native"
            else (ApiFamily.OPENAI,)
        )

    def _url(self, endpoint: Endpoint) -> str:
        return f"{self._settings.base_url}/{endpoint.value}"

    async def create(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> CanonicalAnswer:
        """Posts the request and returns the upstream's JSON answer (which, the upstream
        speaking OpenAI's API, is in the canonical shape); an embeddings request with more
        inputs than one call carries is sent as several."""
        if endpoint is Endpoint.EMBEDDINGS:
            return await self.embed(cast(EmbeddingRequest, body), call)
        answer = await self._http.post_for_json(self._url(endpoint), body, call)
        return cast(CanonicalAnswer, answer)

    async def embed(self, body: EmbeddingRequest, call: UpstreamCall) -> EmbeddingList:
        """Embeds the inputs in calls of at most `embedding_batch` inputs each; returns one
        answer with every vector in the inputs' order."""
        url = self._url(Endpoint.EMBEDDINGS)
        parts = embeddings.batches(body, self._settings.embedding_batch)
        if len(parts) == 1:
            return cast(EmbeddingList, await self._http.post_for_json(url, body, call))

        async def one(part: EmbeddingRequest) -> dict[str, Any]:
            return await self._http.post_for_json(url, part, call)

        return embeddings.joined(await batched.each(parts, one))

    async def stream(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> AsyncGenerator[CanonicalChunk, None]:
        """Posts the request and yields each chunk of the upstream's event stream (speech:
        its audio, as `speech` relays it)."""
        if endpoint is Endpoint.SPEECH:
            async for piece in self.speech(body, call):
                yield cast(CanonicalChunk, piece)
            return
        sent: Mapping[str, Any] = body
        if self._settings.stream_usage:
            options = sent.get("stream_options") or {}
            sent = {**body, "stream_options": {**options, "include_usage": True}}
        events = await self._http.post_for_events(self._url(endpoint), sent, call, _is_done)
        try:
            async for event in events:
                if event == _DONE:
                    return
                yield cast(CanonicalChunk, self._http.event_object(event))
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    @staticmethod
    def _sent(wire: WireRequest, model: str) -> dict[str, Any] | aiohttp.FormData:
        """The caller's request with the upstream's model: its JSON, or its form rebuilt with
        every part as sent (a form is read once: one per attempt)."""
        if not wire.form:
            return {**wire.body, "model": model}
        form = aiohttp.FormData()
        for part in wire.form:
            if part.name == "model":
                continue
            if part.is_file:
                form.add_field(
                    part.name, part.data, filename=part.filename, content_type=part.content_type
                )
            else:
                form.add_field(part.name, part.text())
        form.add_field("model", model)
        return form

    async def relay(self, wire: WireRequest, model: str, call: UpstreamCall) -> WireAnswer:
        """Sends an OpenAI caller's request as it came; returns the answer's bytes. An
        embeddings request too large for one call is sent as several: its answer is the
        joined one's JSON."""
        if (
            wire.operation == _EMBEDDINGS
            and len(embeddings.inputs_of(wire.body)) > self._settings.embedding_batch
        ):
            body = cast(EmbeddingRequest, {**wire.body, "model": model})
            joined = await self.embed(body, call)
            return WireAnswer(orjson.dumps(joined), usage_of(joined))
        data = await self._http.post_for_bytes(
            f"{self._settings.base_url}/{wire.operation}",
            self._sent(wire, model) if wire.form else {**wire.body, "model": model},
            call,
            wire.headers,
        )
        if wire.operation in _TRANSCRIPTS:
            return _transcript(data, wire)
        answer = json_object(data)
        if wire.family is ApiFamily.RESPONSES:
            return WireAnswer(data, responses_usage_of(answer))
        if wire.operation.startswith(_IMAGES):
            return WireAnswer(data, images_usage_of(answer, wire.body))
        return WireAnswer(data, usage_of(answer))

    async def relay_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """Sends an OpenAI caller's streamed request as it came; yields each event's bytes.

        When the gateway asks for the usage chunk the caller did not ask for, that chunk is
        read but not relayed (the `usage: null` the others then carry is the API's own)."""
        if wire.family is ApiFamily.RESPONSES:
            async for relayed in self._relay_responses_stream(wire, model, call):
                yield relayed
            return
        if wire.operation.startswith(_IMAGES):
            async for relayed in self._relay_image_stream(wire, model, call):
                yield relayed
            return
        if wire.operation == _SPEECH:
            async for piece in self.speech({**wire.body, "model": model}, call, wire.headers):
                yield piece
            return
        if wire.operation in _TRANSCRIPTS:
            async for relayed in self._relay_transcript_stream(wire, model, call):
                yield relayed
            return
        body = {**wire.body, "model": model}
        options = body.get("stream_options")
        asked = isinstance(options, dict) and bool(options.get("include_usage"))
        if self._settings.stream_usage and not asked:
            body["stream_options"] = {**(options or {}), "include_usage": True}
        url = f"{self._settings.base_url}/{wire.operation}"
        events = await self._http.post_for_events(url, body, call, _is_done, wire.headers)
        try:
            async for event in events:
                if event == _DONE:
                    return
                chunk = self._http.event_object(event)
                usage = usage_of(chunk) if chunk.get("usage") else None
                hidden = usage is not None and not asked and not chunk.get("choices")
                yield WireEvent(event, usage=usage, pieces=pieces_of(chunk), hidden=hidden)
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def count_tokens(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> tuple[int, bytes]:
        """Counts a Responses API request (the conversation as `relay` would send it) at the
        upstream's `/responses/input_tokens`: only a native upstream is asked (`relays`)."""
        assert wire.family is ApiFamily.RESPONSES, "only the Responses API is counted here"
        body = {name: value for name, value in wire.body.items() if name in _COUNTED}
        url = f"{self._settings.base_url}/responses/input_tokens"
        return await self._http.post_for_count(
            url, {**body, "model": model}, call, wire.headers, "input_tokens"
        )

    async def _relay_responses_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """A Responses API stream, each event as it came, named by its type; it ends at its
        terminal event (the API sends no end marker), and an `error` event is the caller's
        error."""
        url = f"{self._settings.base_url}/{wire.operation}"
        body = {**wire.body, "model": model}
        events = await self._http.post_for_events(url, body, call, None, wire.headers)
        try:
            async for event in events:
                parsed, kind = self._typed_event(event)
                usage = None
                if kind in _TERMINAL and isinstance(parsed.get("response"), dict):
                    usage = responses_usage_of(parsed["response"])
                yield WireEvent(event, kind, usage, 1 if kind in _PIECES else 0)
                if kind in _TERMINAL:
                    return
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def speech(
        self,
        body: Mapping[str, Any],
        call: UpstreamCall,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> AsyncGenerator[WireEvent, None]:
        """Speech as it comes: the audio's bytes piece by piece, or (`stream_format: sse`)
        each `speech.audio.*` event, the usage in `speech.audio.done`. Either way relayed as
        the upstream sent it; what is billed by the character counts the input's."""
        url = f"{self._settings.base_url}/{Endpoint.SPEECH.value}"
        text = body.get("input")
        used = Usage(estimated=True, characters=len(text) if isinstance(text, str) else 0)
        if body.get("stream_format") != "sse":
            pieces = chunks(await self._http.post(url, body, call, headers))
            try:
                async for piece in pieces:
                    yield WireEvent(piece, usage=used)
            finally:  # a caller gone closes the upstream's connection now, not at collection
                await pieces.aclose()
            return
        events = await self._http.post_for_events(url, body, call, None, headers)
        done = False
        try:
            async for event in events:
                parsed = self._http.event_object(event)
                kind = str(parsed.get("type", ""))
                usage = used
                if kind == "speech.audio.done":
                    done = True
                    usage = dataclasses.replace(
                        responses_usage_of(parsed), characters=used.characters
                    )
                yield WireEvent(event, kind, usage)
            if not done:
                raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def _relay_image_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """An image generation or edit stream (`partial_images`), each event as it came,
        named by its type; it ends with the body (the API sends no end marker), complete
        once an image's `completed` event came. Its usage is that event's."""
        url = f"{self._settings.base_url}/{wire.operation}"
        events = await self._http.post_for_events(
            url, self._sent(wire, model), call, None, wire.headers
        )
        completed = 0
        used = Usage(estimated=True, image_kind=image_kind(wire.body))
        try:
            async for event in events:
                parsed, kind = self._typed_event(event)
                usage = None
                if kind.endswith(".completed"):  # one per image: the usage so far is summed
                    completed += 1
                    this = responses_usage_of(parsed)
                    used.prompt_tokens += this.prompt_tokens
                    used.completion_tokens += this.completion_tokens
                    used.estimated = used.estimated and this.estimated
                    used.images = completed
                    usage = dataclasses.replace(used)
                yield WireEvent(event, kind, usage, 1 if kind.endswith(".partial_image") else 0)
            if not completed:
                raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def _relay_transcript_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """A transcription stream (`transcript.text.delta`/`segment` events), each event as
        it came, complete at `transcript.text.done`, which carries the usage. A model that
        ignores `stream` (whisper-1) answers whole: its transcript is given as that one
        `done` event, so the caller who asked for a stream gets one."""
        url = f"{self._settings.base_url}/{wire.operation}"
        sent = self._sent(wire, model)
        events = await self._http.post_for_events_or_bytes(url, sent, call, _is_done, wire.headers)
        if isinstance(events, bytes):
            parsed = _transcript_json(events, wire)
            text = events.decode("utf-8", "replace") if parsed is None else parsed.get("text")
            done: dict[str, Any] = {"type": _TRANSCRIPT_DONE, "text": text or ""}
            if parsed is not None and "usage" in parsed:
                done["usage"] = parsed["usage"]
            usage = transcript_usage_of(parsed)
            yield WireEvent(orjson.dumps(done), _TRANSCRIPT_DONE, usage)
            return
        try:
            async for event in events:
                if event == _DONE:
                    break
                parsed, kind = self._typed_event(event)
                if kind == _TRANSCRIPT_DONE:
                    yield WireEvent(event, kind, transcript_usage_of(parsed))
                    return
                yield WireEvent(event, kind, None, 1 if kind == "transcript.text.delta" else 0)
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    def _typed_event(self, event: bytes) -> tuple[dict[str, Any], str]:
        """One event of a stream whose events name their `type`, and that type; an `error`
        event (or one that is only `{"error": ...}`) raises the caller's error."""
        parsed = self._http.event_object(event)
        kind = str(parsed.get("type", ""))
        if kind == "error" or (not kind and "error" in parsed):
            raise upstream_errors.error_in_stream(
                parsed if "error" in parsed else {"error": parsed},
                self._settings.upstream_messages == "hidden",
                self._http.read_error,
            )
        return parsed, kind

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

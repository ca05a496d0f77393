"""The audio APIs' wire formats.

`/v1/audio/speech`: the audio's bytes as the upstream sends them, under the media type of the
format asked for (`audio/mpeg` for mp3, ...), or with `stream_format: sse` OpenAI's
`speech.audio.*` events; errors before the first byte in OpenAI's JSON shape.
`/v1/audio/transcriptions` and `translations`: the upstream's answer as it came (JSON, or
text, SRT or VTT as plain text: see `WireAnswer.content_type`), or its `transcript.text.*`
events, each a `data:` frame, no end marker.

A failure after the audio has started cannot be written into the audio: the gateway ends the
call with an error status (`exchange.StreamCut`) and records the failure; Envoy gives it to
HTTP/2 callers as trailers and ends an HTTP/1.1 body as it is. An SSE stream gets an `error`
event instead.
"""

from __future__ import annotations

import orjson

from llm_gateway.api.rest.exchange import StreamEncoder
from llm_gateway.api.rest.relayed_dialect import RelayedDialect
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer
from llm_gateway.model.wire import WireAnswer, WireEvent

# The media type of each `response_format`.
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


class AudioFramer:
    """Writes relayed audio, or relayed SSE events (speech's with `stream_format: sse`, and
    transcripts')."""

    def __init__(self, sse: bool) -> None:
        self._sse = sse

    def event(self, event: WireEvent) -> bytes:
        return b"data: " + event.data + b"\n\n" if self._sse else event.data

    def error(self, error: GatewayError) -> bytes | None:
        if not self._sse:
            return None  # the stream is cut
        return b"data: " + orjson.dumps({"type": "error", **error.body()}) + b"\n\n"

    def end(self) -> bytes:
        return b""


class SpeechDialect:
    """The answer of one speech request (its media type is the format it asked for)."""

    def __init__(self) -> None:
        self.stream_content_type = MEDIA_TYPES["mp3"]
        self._sse = False

    def asked(self, request: GenerationRequest) -> None:
        """Takes the request's format and stream format."""
        body = request.caller_body
        self._sse = body.get("stream_format") == "sse"
        self.stream_content_type = (
            "text/event-stream"
            if self._sse
            else MEDIA_TYPES.get(str(body.get("response_format") or "mp3"), "audio/mpeg")
        )

    def answer(self, answer: CanonicalAnswer) -> bytes:
        raise AssertionError("speech always streams")

    def relayed(self, answer: WireAnswer) -> bytes:
        raise AssertionError("speech always streams")

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        raise AssertionError("speech is only relayed")

    def framer(self) -> AudioFramer:
        return AudioFramer(self._sse)


# Transcription upstreams speak OpenAI's API: their answers and events are relayed.
TRANSCRIPTS = RelayedDialect(AudioFramer(sse=True))

"""The scripted upstream's `POST /v1/audio/speech`, refusing what OpenAI's refuses.

The audio is deterministic bytes (`audio_bytes`), sent in `CHUNKS` pieces `PAUSE` seconds
apart, so a test can see them arrive before the upstream is done. `stream_format: sse` (only
the gpt-4o-mini-tts models have it) sends them as `speech.audio.delta` events (base64) and a
`speech.audio.done` with the token usage. The model `tts-broken` cuts the connection after two
chunks. Refusals (400, OpenAI's shape): a missing `model`,
`input` or `voice`, an input over 4,096 characters, an unknown member, `speed` out of
[0.25, 4], an unknown `response_format`, `sse` on tts-1.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

from aiohttp import web

from tests.support.scripted_refusals import invalid_request

_FIELDS = frozenset(
    ("model", "input", "voice", "instructions", "response_format", "speed", "stream_format")
)
FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
CHUNKS = 4
PAUSE = 0.15


def audio_bytes(text: str, response_format: str = "mp3") -> bytes:
    """The audio the double makes of a text: 4 chunks of 8 KB derived from it."""
    seed = hashlib.sha256(f"{response_format}:{text}".encode()).digest()
    return seed * (CHUNKS * 8192 // len(seed))


def _refusal(body: dict[str, Any]) -> web.Response | None:
    for name in body:
        if name not in _FIELDS:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    for name in ("model", "input", "voice"):
        if not body.get(name):
            return invalid_request(f"Missing required parameter: '{name}'.", name)
    if len(str(body["input"])) > 4096:
        return invalid_request("'input' must be at most 4096 characters.", "input")
    if body.get("response_format", "mp3") not in FORMATS:
        return invalid_request("Invalid value for 'response_format'.", "response_format")
    speed = body.get("speed", 1)
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4:
        return invalid_request("Invalid 'speed': must be between 0.25 and 4.", "speed")
    if body.get("stream_format") == "sse" and not str(body["model"]).startswith("gpt-4o"):
        return invalid_request(
            "stream_format 'sse' is not supported for this model.", "stream_format"
        )
    return None


async def speech(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    """Answers `/v1/audio/speech`: the audio in chunks, or its SSE events."""
    if (refused := _refusal(body)) is not None:
        return refused
    response_format = str(body.get("response_format", "mp3"))
    audio = audio_bytes(str(body["input"]), response_format)
    size = len(audio) // CHUNKS
    pieces = [audio[i : i + size] for i in range(0, len(audio), size)]
    sse = body.get("stream_format") == "sse"
    content_type = "text/event-stream" if sse else FORMATS[response_format]
    response = web.StreamResponse(headers={"content-type": content_type})
    await response.prepare(request)
    for index, piece in enumerate(pieces):
        if index:
            await asyncio.sleep(PAUSE)
        if index == 2 and body["model"] == "tts-broken":
            assert request.transport is not None
            request.transport.close()  # mid-audio, without ending the body
            return response
        if sse:
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        else:
            await response.write(piece)
    if sse:
        usage = {"input_tokens": 10, "output_tokens": 120, "total_tokens": 130}
        done = {"type": "speech.audio.done", "usage": usage}
        await response.write(f"data: {json.dumps(done)}\n\n".encode())
    return response

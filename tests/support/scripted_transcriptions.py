"""The scripted upstream's `POST /v1/audio/transcriptions` and `/v1/audio/translations`
(multipart), refusing what OpenAI's refuse.

The transcript is derived from the audio file's bytes (`transcript_of`), so a test sees the
file arrived whole; the file must be a WAV (its length is read with `wave`, and billed as
whisper-1 bills it, by the second, rounded up). whisper-1 answers every `response_format`
(json, text, srt, verbose_json with `timestamp_granularities`, vtt) and ignores `stream`;
the gpt-4o transcribe models answer json or text, report tokens, and stream
`transcript.text.delta` events (and, for `gpt-4o-transcribe-diarize`, a
`transcript.text.segment` naming its speaker) and a `transcript.text.done`
(`transcribe-broken` cuts the stream after two deltas); `whisper-slow` answers after 10 s,
unless its caller leaves first. Refusals (400, OpenAI's shape): a missing `file` or `model`,
an unknown or repeated member, a file that is not audio, `timestamp_granularities` without
verbose_json, a format the model does not write, translations by another model than
whisper-1; a file over 25 MB is a 413.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import wave
from typing import Any

from aiohttp import web

from tests.support.scripted_refusals import invalid_request

MAX_FILE_BYTES = 25 * 1024 * 1024
_TRANSCRIPTION_FIELDS = frozenset(
    ("file", "model", "language", "prompt", "response_format", "temperature",
     "timestamp_granularities[]", "include[]", "stream", "chunking_strategy",
     "known_speaker_names[]", "known_speaker_references[]")
)  # fmt: skip
_TRANSLATION_FIELDS = frozenset(("file", "model", "prompt", "response_format", "temperature"))
_FORMATS = frozenset(("json", "text", "srt", "verbose_json", "vtt"))
_STREAMING = (
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
    "transcribe-broken",
)


def transcript_of(audio: bytes) -> str:
    """What the double hears in a file: words derived from its bytes."""
    digest = hashlib.sha256(audio).hexdigest()
    return f"heard {len(audio)} bytes {digest[:8]} {digest[8:16]}"


def wav(seconds: float, rate: int = 8000, seed: int = 0) -> bytes:
    """A mono 16-bit WAV file of `seconds` (its samples vary with `seed`)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(bytes((seed + i) % 251 for i in range(frames * 2)))
    return buffer.getvalue()


def _seconds(audio: bytes) -> float | None:
    try:
        with wave.open(io.BytesIO(audio)) as read:
            return read.getnframes() / read.getframerate()
    except (wave.Error, EOFError):
        return None


def _stamp(seconds: float, separator: str) -> str:
    whole = int(seconds)
    return (
        f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        f"{separator}{int((seconds - whole) * 1000):03d}"
    )


def _refusal(
    fields: dict[str, str], files: list[tuple[str, bytes]], translation: bool
) -> web.Response | None:
    known = _TRANSLATION_FIELDS if translation else _TRANSCRIPTION_FIELDS
    for name in [*fields, *(name for name, _ in files)]:
        if name.rstrip("]").partition("[")[0] + ("[]" if name.endswith("[]") else "") not in known:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    if "duplicated" in fields:
        return invalid_request(f"Duplicate parameter: '{fields['duplicated']}'.")
    if not files:
        return invalid_request("Missing required parameter: 'file'.", "file")
    if len(files) > 1:
        return invalid_request("Only one 'file' may be given.", "file")
    if not fields.get("model"):
        return invalid_request("Missing required parameter: 'model'.", "model")
    if _seconds(files[0][1]) is None:
        return invalid_request(
            "The audio file could not be decoded or its format is not supported.", "file"
        )
    model, response_format = fields["model"], fields.get("response_format", "json")
    if response_format not in _FORMATS:
        return invalid_request("Invalid value for 'response_format'.", "response_format")
    if translation and model != "whisper-1":
        return invalid_request(f"Invalid model {model} for translations.", "model")
    if model in _STREAMING and response_format not in ("json", "text"):
        return invalid_request(
            f"response_format '{response_format}' is not compatible with model '{model}'.",
            "response_format",
        )
    if "timestamp_granularities[]" in fields and response_format != "verbose_json":
        return invalid_request(
            "timestamp_granularities requires response_format=verbose_json.",
            "timestamp_granularities",
        )
    return None


async def _read(
    request: web.Request,
) -> tuple[dict[str, str], list[tuple[str, bytes]], list[str]]:
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    granularities: list[str] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = await part.read()  # type: ignore[union-attr]
        name = part.name or ""
        if part.filename is not None:  # type: ignore[union-attr]
            files.append((name, data))
        elif name == "timestamp_granularities[]":
            granularities.append(data.decode())
            fields[name] = data.decode()
        elif name in fields and not name.endswith("]"):
            fields["duplicated"] = name
        else:
            fields[name] = data.decode()
    return fields, files, granularities


async def answer(request: web.Request, recorded_body: dict[str, Any]) -> web.StreamResponse:
    """Answers a transcription or translation (`recorded_body` is filled in with what came:
    the fields, and each file's name and digest)."""
    if (request.content_length or 0) > MAX_FILE_BYTES + 1024 * 1024:
        return web.json_response(
            {"error": {"message": "Maximum content size limit exceeded.",
                       "type": "invalid_request_error", "param": None, "code": None}},
            status=413,
        )  # fmt: skip
    fields, files, granularities = await _read(request)
    recorded_body.update(fields)
    recorded_body["granularities"] = granularities
    recorded_body["files"] = [
        {"field": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files
    ]
    translation = request.path.endswith("/translations")
    if (refused := _refusal(fields, files, translation)) is not None:
        return refused
    audio = files[0][1]
    if fields["model"] == "whisper-slow":  # answers in 10 s, unless its caller leaves first
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            if request.transport is None or request.transport.is_closing():
                return web.Response()  # nobody to answer
            await asyncio.sleep(0.01)
    text = transcript_of(audio)
    seconds = _seconds(audio) or 0.0
    model, response_format = fields["model"], fields.get("response_format", "json")
    if model in _STREAMING:
        usage: dict[str, Any] = {
            "type": "tokens",
            "input_tokens": 40,
            "output_tokens": 12,
            "total_tokens": 52,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 40},
        }
        if fields.get("stream") == "true":
            return await _stream(request, text, usage, model)
    else:
        usage = {"type": "duration", "seconds": math.ceil(seconds)}
    if response_format == "text":
        return web.Response(text=text, content_type="text/plain")
    if response_format == "srt":
        srt = f"1\n{_stamp(0, ',')} --> {_stamp(seconds, ',')}\n{text}\n\n"
        return web.Response(text=srt, content_type="text/plain")
    if response_format == "vtt":
        vtt = f"WEBVTT\n\n{_stamp(0, '.')} --> {_stamp(seconds, '.')}\n{text}\n\n"
        return web.Response(text=vtt, content_type="text/plain")
    if response_format == "verbose_json":
        verbose: dict[str, Any] = {
            "task": "translate" if translation else "transcribe",
            "language": "english",
            "duration": seconds,
            "text": text,
            "usage": usage,
        }
        words = text.split()
        if not granularities or "segment" in granularities:
            verbose["segments"] = [
                {"id": 0, "seek": 0, "start": 0.0, "end": seconds, "text": text,
                 "tokens": [1, 2, 3], "temperature": 0.0, "avg_logprob": -0.2,
                 "compression_ratio": 1.1, "no_speech_prob": 0.01}
            ]  # fmt: skip
        if "word" in granularities:
            step = seconds / len(words)
            verbose["words"] = [
                {"word": word, "start": i * step, "end": (i + 1) * step}
                for i, word in enumerate(words)
            ]
        return web.json_response(verbose)
    return web.json_response({"text": text, "usage": usage})


async def _stream(
    request: web.Request, text: str, usage: dict[str, Any], model: str
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    words = text.split(" ")
    for index, word in enumerate(words):
        if model == "transcribe-broken" and index == 2:
            assert request.transport is not None
            request.transport.close()
            return response
        delta = {"type": "transcript.text.delta", "delta": word if not index else f" {word}"}
        await response.write(f"data: {json.dumps(delta)}\n\n".encode())
        await asyncio.sleep(0.01)
    if model.endswith("-diarize"):  # one segment of the whole text, said by `agent`
        segment = {"type": "transcript.text.segment", "id": "seg_001", "start": 0.0,
                   "end": 3.0, "text": text, "speaker": "agent"}  # fmt: skip
        await response.write(f"data: {json.dumps(segment)}\n\n".encode())
    done = {"type": "transcript.text.done", "text": text, "usage": usage}
    await response.write(f"data: {json.dumps(done)}\n\n".encode())
    return response

"""Transcriptions and translations through Envoy with the official `openai` SDK against the
scripted double of OpenAI's audio upload APIs: the audio file reaches the upstream byte for
byte; every `response_format` under its media type; `timestamp_granularities`; the
`transcript.text.*` stream; answers and events validated by the spec's schemas; uploads up
to 25 MB pass, larger ones are a 413, and every refusal is in OpenAI's shape naming the
field."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import fastjsonschema
import grpc
import openai
import pytest
import requests

from llm_gateway.v1 import audio_pb2, llm_gateway_service_pb2_grpc
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_images import PNG
from tests.support.scripted_transcriptions import transcript_of, wav
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack
from tests.test_cancellation import log_entry

_SCHEMAS = json.loads(
    (Path(__file__).parent / "fixtures" / "openai_response_schemas.json").read_text()
)
validate_transcription = fastjsonschema.compile(_SCHEMAS["transcription"])
validate_verbose = fastjsonschema.compile(_SCHEMAS["transcription_verbose"])
validate_event = fastjsonschema.compile(_SCHEMAS["transcription_event"])
validate_translation = fastjsonschema.compile(_SCHEMAS["translation"])
validate_translation_verbose = fastjsonschema.compile(_SCHEMAS["translation_verbose"])
AUDIO = wav(3.0)


def _post(
    stack: Stack, path: str, files: object, data: object, timeout: float = 60, **headers: str
) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}/v1/audio/{path}",
        headers={"authorization": f"Bearer {KEY}", **headers},
        files=files,  # type: ignore[arg-type]
        data=data,  # type: ignore[arg-type]
        timeout=timeout,
    )


def test_transcription_reaches_the_upstream_whole(
    client: openai.OpenAI, stack: Stack, upstream: ScriptedUpstream
) -> None:
    answer = client.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", AUDIO, "audio/wav"), language="en", prompt="Hi"
    )
    assert answer.text == transcript_of(AUDIO)
    sent = upstream.last()
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.body["files"] == [
        {"field": "file", "size": len(AUDIO), "sha256": hashlib.sha256(AUDIO).hexdigest()}
    ]
    assert sent.body["model"] == "whisper-1" and sent.body["language"] == "en"
    assert sent.body["prompt"] == "Hi"
    raw = _post(stack, "transcriptions", {"file": ("a.wav", AUDIO)}, {"model": "whisper-1"})
    assert raw.headers["content-type"].startswith("application/json")
    validate_transcription(raw.json())
    assert raw.json()["usage"] == {"type": "duration", "seconds": 3}


@pytest.mark.parametrize(
    ("fmt", "starts"), [("text", "heard "), ("srt", "1\n00:00:00,000 --> 00:00:03,000\n"),
                        ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n")],
)  # fmt: skip
def test_text_formats_are_plain_text(
    client: openai.OpenAI, stack: Stack, fmt: str, starts: str
) -> None:
    text = client.audio.transcriptions.create(
        model="whisper-1",
        file=("a.wav", AUDIO),
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert isinstance(text, str) and text.startswith(starts) and transcript_of(AUDIO) in text
    raw = _post(
        stack, "transcriptions", {"file": ("a.wav", AUDIO)},
        {"model": "whisper-1", "response_format": fmt},
    )  # fmt: skip
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.text == text


def test_verbose_json_with_word_and_segment_timestamps(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.audio.transcriptions.create(
        model="whisper-1",
        file=("a.wav", AUDIO),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=0.2,
    )
    validate_verbose(answer.model_dump(exclude_none=True))
    assert answer.duration == pytest.approx(3.0)
    assert [w.word for w in answer.words or ()] == transcript_of(AUDIO).split()
    assert answer.segments and answer.segments[0].text == transcript_of(AUDIO)
    sent = upstream.last().body
    assert sent["granularities"] == ["word", "segment"] and sent["temperature"] == "0.2"


def test_a_transcript_streams_its_events(client: openai.OpenAI, stack: Stack) -> None:
    events = list(
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", AUDIO), stream=True
        )
    )
    assert [e.type for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1)
    done = events[-1]
    assert done.type == "transcript.text.done" and done.text == transcript_of(AUDIO)
    assert "".join(e.delta for e in events[:-1]) == done.text  # type: ignore[union-attr]
    raw = _post(
        stack, "transcriptions", {"file": ("a.wav", AUDIO)},
        {"model": "gpt-4o-transcribe", "stream": "true"},
    )  # fmt: skip
    assert raw.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in raw.text.split("\n\n") if f]
    for frame in frames:
        assert frame.startswith("data: ")
        validate_event(json.loads(frame.removeprefix("data: ")))
    assert "[DONE]" not in raw.text  # the API sends no end marker
    diarized = _post(
        stack, "transcriptions", {"file": ("a.wav", AUDIO)},
        {"model": "gpt-4o-transcribe-diarize", "stream": "true"},
    )  # fmt: skip
    kinds = []
    for frame in (f for f in diarized.text.split("\n\n") if f):
        event = json.loads(frame.removeprefix("data: "))
        validate_event(event)
        kinds.append(event["type"])
    assert kinds[-2:] == ["transcript.text.segment", "transcript.text.done"]


def test_a_model_that_ignores_stream_still_streams_its_transcript(client: openai.OpenAI) -> None:
    # whisper-1 answers whole when asked to stream: the caller still gets the `done` event.
    events = list(
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO), stream=True)
    )
    assert [e.type for e in events] == ["transcript.text.done"]
    assert events[0].text == transcript_of(AUDIO)


def test_a_whole_text_answer_to_a_stream_is_its_done_event(stack: Stack) -> None:
    raw = _post(
        stack, "transcriptions", {"file": ("a.wav", AUDIO)},
        {"model": "whisper-1", "stream": "true", "response_format": "text"},
    )  # fmt: skip
    assert raw.headers["content-type"].startswith("text/event-stream")
    frames = [json.loads(f.removeprefix("data: ")) for f in raw.text.split("\n\n") if f]
    assert frames == [{"type": "transcript.text.done", "text": transcript_of(AUDIO)}]
    validate_event(frames[0])


def test_a_transcript_stream_cut_short_ends_with_an_error_event(stack: Stack) -> None:
    request_id = "transcript-cut-1"
    raw = _post(
        stack, "transcriptions", {"file": ("a.wav", AUDIO)},
        {"model": "transcribe-broken", "stream": "true"}, **{"x-request-id": request_id},
    )  # fmt: skip
    frames = [json.loads(f.removeprefix("data: ")) for f in raw.text.split("\n\n") if f]
    assert [f["type"] for f in frames] == ["transcript.text.delta"] * 2 + ["error"]
    assert frames[-1]["error"]["code"] == "upstream_stream_interrupted"
    assert log_entry(stack, request_id)["status"] == 502


def test_translation(client: openai.OpenAI, stack: Stack, upstream: ScriptedUpstream) -> None:
    answer = client.audio.translations.create(model="whisper-1", file=("a.wav", AUDIO))
    assert answer.text == transcript_of(AUDIO)
    assert upstream.last().path == "/v1/audio/translations"
    raw = _post(
        stack, "translations", {"file": ("a.wav", AUDIO)},
        {"model": "whisper-1", "response_format": "verbose_json"},
    )  # fmt: skip
    validate_translation_verbose(raw.json())
    assert raw.json()["task"] == "translate"
    raw = _post(stack, "translations", {"file": ("a.wav", AUDIO)}, {"model": "whisper-1"})
    validate_translation(raw.json())


def test_an_upload_of_twenty_megabytes_passes(client: openai.OpenAI) -> None:
    big = wav(20 * 1024 * 1024 / 16000)  # 16 kB a second: 20 MiB of audio
    answer = client.audio.transcriptions.create(model="whisper-1", file=("long.wav", big))
    assert answer.text == transcript_of(big)


def test_an_upload_over_the_limit_is_a_413(stack: Stack, upstream: ScriptedUpstream) -> None:
    before = len(upstream.requests)
    over = b"\0" * (25 * 1024 * 1024 + 1)
    raw = _post(stack, "transcriptions", {"file": ("a.wav", over)}, {"model": "whisper-1"})
    assert raw.status_code == 413
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "file"
    far_over = b"\0" * (27 * 1024 * 1024)  # Envoy's own limit for the path
    raw = _post(stack, "translations", {"file": ("a.wav", far_over)}, {"model": "whisper-1"})
    assert raw.status_code == 413
    assert raw.json()["error"]["message"] == "The request body is too large."  # Envoy's own
    assert len(upstream.requests) == before


def test_other_paths_keep_the_smaller_body_limit(stack: Stack) -> None:
    body = b'{"model": "gpt-echo", "messages": [], "x": "' + b"a" * (9 * 1024 * 1024) + b'"}'
    raw = requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        data=body,
        timeout=30,
    )
    assert raw.status_code == 413
    assert raw.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("files", "data", "param", "says"),
    [
        ({"file": ("notes.txt", AUDIO)}, {"model": "whisper-1"}, "file", "Invalid file format"),
        ({"file": ("a.wav", PNG)}, {"model": "whisper-1"}, "file", "could not be decoded"),
        ({"model": (None, "whisper-1")}, None, "file", "Missing required parameter: 'file'"),
        ({"file": ("a.wav", AUDIO)}, {}, "model", "Missing required parameter: 'model'"),
        ({"file": ("a.wav", AUDIO)}, {"model": "whisper-1", "response_format": "mp3"},
         "response_format", "Invalid value"),
        ({"file": ("a.wav", AUDIO)}, {"model": "whisper-1", "temperature": "warm"},
         "temperature", "Invalid value"),
        ({"file": ("a.wav", AUDIO)}, {"model": "whisper-1", "timestamp_granularities[]": "line"},
         "timestamp_granularities[0]", "Invalid value"),
        ({"file": ("a.wav", AUDIO), "prompt": ("p.wav", AUDIO)}, {"model": "whisper-1"},
         "prompt", "Unexpected file"),
        ({"file": ("a.wav", AUDIO)}, {"model": "gpt-echo"}, "model", "does not serve"),
    ],
)  # fmt: skip
def test_bad_uploads_name_the_field(
    stack: Stack, upstream: ScriptedUpstream, files: object, data: object, param: str, says: str
) -> None:
    before = len(upstream.requests)
    raw = _post(stack, "transcriptions", files, data)
    assert raw.status_code == 400, raw.text
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert says in error["message"]
    assert len(upstream.requests) == before  # refused before any upstream call


def test_the_upstreams_own_refusal_is_relayed(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", AUDIO), timestamp_granularities=["word"]
        )
    assert "timestamp_granularities" in str(caught.value)


def test_a_body_that_is_not_a_form_is_refused(stack: Stack) -> None:
    raw = requests.post(
        f"{stack.rest_url}/v1/audio/transcriptions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "whisper-1", "file": "a.wav"},
        timeout=10,
    )
    assert raw.status_code == 400
    assert raw.json()["error"]["code"] == "invalid_content_type"


def test_a_provider_without_an_audio_api_says_so(client: openai.OpenAI) -> None:
    # Configured to serve audio, an Anthropic model cannot: a 400, no upstream error.
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="claude-audio", file=("a.wav", AUDIO))
    assert caught.value.code == "operation_not_supported" and "no audio API" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="claude-audio", voice="alloy", input="x")
    assert caught.value.code == "operation_not_supported"


def test_typed_transcription(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
    stack: Stack,
    upstream: ScriptedUpstream,
) -> None:
    request = audio_pb2.TranscriptionRequest(
        model="whisper-1", file=AUDIO, filename="a.wav", response_format="verbose_json",
        timestamp_granularities=["word"], temperature=0.25, language="en",
    )  # fmt: skip
    request_id = f"typed-transcript-{id(typed)}"
    answer = typed.CreateTranscription(
        request, metadata=(*METADATA, ("x-request-id", request_id)), timeout=20
    )
    assert answer.text == transcript_of(AUDIO) and answer.duration == pytest.approx(3.0)
    assert [w.word for w in answer.words] == transcript_of(AUDIO).split()
    assert answer.usage.seconds == 3 and answer.language == "english"
    sent = upstream.last().body
    assert sent["files"][0]["sha256"] == hashlib.sha256(AUDIO).hexdigest()
    assert sent["granularities"] == ["word"] and sent["temperature"] == "0.25"
    assert sent["language"] == "en"
    assert log_entry(stack, request_id)["surface"] == "grpc"  # not the REST API's
    translated = typed.CreateTranslation(
        audio_pb2.TranscriptionRequest(model="whisper-1", file=AUDIO, filename="a.wav"),
        metadata=METADATA,
        timeout=20,
    )
    assert translated.text == transcript_of(AUDIO)
    assert upstream.last().path == "/v1/audio/translations"


@pytest.mark.parametrize(
    ("request_", "param", "status"),
    [
        (audio_pb2.TranscriptionRequest(model="whisper-1", file=AUDIO, filename="a.wav",
                                        response_format="srt"), "response_format",
         grpc.StatusCode.INVALID_ARGUMENT),
        (audio_pb2.TranscriptionRequest(model="whisper-1", file=PNG, filename="a.wav"), "file",
         grpc.StatusCode.INVALID_ARGUMENT),
        (audio_pb2.TranscriptionRequest(model="whisper-1", file=b"\0" * (25 * 1024 * 1024 + 1),
                                        filename="a.wav"), "file",
         grpc.StatusCode.RESOURCE_EXHAUSTED),
        (audio_pb2.TranscriptionRequest(model="gpt-echo", file=AUDIO, filename="a.wav"), "model",
         grpc.StatusCode.INVALID_ARGUMENT),
    ],
)  # fmt: skip
def test_typed_refusals_name_the_field(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
    request_: audio_pb2.TranscriptionRequest,
    param: str,
    status: grpc.StatusCode,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        typed.CreateTranscription(request_, metadata=METADATA, timeout=20)
    assert caught.value.code() == status
    error, _ = error_details(caught.value)
    assert error.param == param


def test_a_caller_leaving_closes_the_upstream_call(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    request_id = "transcript-left-1"
    with pytest.raises(requests.exceptions.ReadTimeout):
        _post(
            stack, "transcriptions", {"file": ("a.wav", AUDIO)}, {"model": "whisper-slow"},
            **{"x-request-id": request_id},
            timeout=0.5,
        )  # fmt: skip
    left = time.monotonic()
    recorded = upstream.wait_closed(request_id)
    assert not recorded.completed
    assert recorded.closed_at is not None and recorded.closed_at - left < 2  # not its 10 s
    entry = log_entry(stack, request_id)
    assert entry["status"] == 499 and entry["cancelled"] is True


def test_a_fallback_gets_the_whole_form_again(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.audio.transcriptions.with_raw_response.create(
        model="whisper-falls-back", file=("a.wav", AUDIO), language="en"
    )
    assert answer.parse().text == transcript_of(AUDIO)
    assert answer.headers["x-llm-gateway-deployment"] == "scripted/whisper-1"
    sent = upstream.last().body
    assert sent["files"][0]["sha256"] == hashlib.sha256(AUDIO).hexdigest()
    assert sent["language"] == "en"


def test_a_key_without_the_model_is_refused(stack: Stack) -> None:
    raw = requests.post(
        f"{stack.rest_url}/v1/audio/transcriptions",
        headers={"authorization": f"Bearer {OTHER_KEY}"},
        files={"file": ("a.wav", AUDIO)},
        data={"model": "whisper-1"},
        timeout=10,
    )
    assert raw.status_code == 403 and raw.json()["error"]["param"] == "model"
    assert raw.json()["error"]["code"] == "model_not_allowed"


def test_typed_transcript_stream(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
) -> None:
    def request(model: str) -> audio_pb2.TranscriptionRequest:
        return audio_pb2.TranscriptionRequest(model=model, file=AUDIO, filename="a.wav")

    events = list(
        typed.StreamTranscription(request("gpt-4o-transcribe"), metadata=METADATA, timeout=20)
    )
    assert [e.WhichOneof("event") for e in events] == ["delta"] * (len(events) - 1) + ["done"]
    done = events[-1].done
    assert "".join(e.delta for e in events[:-1]) == done.text == transcript_of(AUDIO)
    assert done.usage.input_tokens == 40 and done.usage.output_tokens == 12
    diarized = list(
        typed.StreamTranscription(
            request("gpt-4o-transcribe-diarize"), metadata=METADATA, timeout=20
        )
    )
    segment = diarized[-2].segment
    assert (segment.speaker, segment.text, segment.end) == ("agent", transcript_of(AUDIO), 3.0)
    whole = list(typed.StreamTranscription(request("whisper-1"), metadata=METADATA, timeout=20))
    assert [e.WhichOneof("event") for e in whole] == ["done"]
    assert whole[0].done.text == transcript_of(AUDIO)
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for event in typed.StreamTranscription(
            request("transcribe-broken"), metadata=METADATA, timeout=20
        ):
            received.append(event)
    assert len(received) == 2 and caught.value.code() == grpc.StatusCode.UNAVAILABLE

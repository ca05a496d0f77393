"""Speech through Envoy with the official `openai` SDK and over the typed gRPC API, against the
scripted double of OpenAI's `/v1/audio/speech`: the audio arrives in pieces while the
upstream still sends it, byte for byte, under its format's media type; SSE events relayed; a
stream cut after it started is reset, never ended as if complete."""

from __future__ import annotations

import base64
import json
import time

import grpc
import openai
import pytest
import requests

from llm_gateway.v1 import audio_pb2, llm_gateway_service_pb2_grpc
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_speech import CHUNKS, PAUSE, audio_bytes
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack
from tests.test_cancellation import log_entry


def test_audio_streams_as_it_comes(client: openai.OpenAI) -> None:
    arrivals, received = [], b""
    started = time.monotonic()
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello there.", response_format="opus"
    ) as response:
        assert response.headers["content-type"] == "audio/opus"
        for piece in response.iter_bytes():
            arrivals.append(time.monotonic() - started)
            received += piece
    assert received == audio_bytes("Hello there.", "opus")
    # The first bytes came before the upstream had sent the last (it pauses between pieces).
    assert len(arrivals) > 1 and arrivals[0] < (CHUNKS - 1) * PAUSE


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("mp3", "audio/mpeg"), ("wav", "audio/wav"), ("flac", "audio/flac"), ("pcm", "audio/pcm")],
)
def test_every_format_has_its_media_type(client: openai.OpenAI, fmt: str, media: str) -> None:
    answer = client.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input="x",
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert answer.response.headers["content-type"] == media
    assert answer.content == audio_bytes("x", fmt)


def test_sse_events_are_relayed(stack: Stack, upstream: ScriptedUpstream) -> None:
    answer = requests.post(
        f"{stack.rest_url}/v1/audio/speech",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-4o-mini-tts", "voice": "coral", "input": "Hi", "stream_format": "sse",
              "instructions": "cheerful"},
        timeout=10,
    )  # fmt: skip
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(f.removeprefix("data: ")) for f in answer.text.split("\n\n") if f]
    assert [e["type"] for e in events] == ["speech.audio.delta"] * CHUNKS + ["speech.audio.done"]
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert audio == audio_bytes("Hi")
    assert upstream.last().body["instructions"] == "cheerful"


def test_a_stream_cut_mid_audio_is_recorded_as_a_failure(stack: Stack) -> None:
    # Over HTTP/1.1 Envoy's transcoder ends the body when the gateway ends the call with an
    # error status after the first byte (envoyproxy/envoy#9126): the caller gets less audio,
    # and the gateway records the cut (the typed API's caller gets the status: below).
    request_id = "speech-cut-1"
    answer = requests.post(
        f"{stack.rest_url}/v1/audio/speech",
        headers={"authorization": f"Bearer {KEY}", "x-request-id": request_id},
        json={"model": "tts-broken", "voice": "alloy", "input": "cut"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert 0 < len(answer.content) < len(audio_bytes("cut"))
    entry = log_entry(stack, request_id)
    assert entry["status"] == 502 and entry["error"] == "upstream_stream_interrupted"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "tts-1", "input": "x"}, "voice"),
        ({"model": "tts-1", "voice": "alloy", "input": "x" * 4097}, "input"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "speed": 5}, "speed"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "response_format": "ogg"},
         "response_format"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "stream_format": "sse"},
         "stream_format"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(stack: Stack, body: object, param: str) -> None:
    answer = requests.post(
        f"{stack.rest_url}/v1/audio/speech",
        headers={"authorization": f"Bearer {KEY}"},
        json=body,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["param"] == param


def test_a_chat_model_does_not_speak(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="gpt-echo", voice="alloy", input="x")
    assert caught.value.code == "operation_not_supported"


def test_typed_speech_streams_pieces(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
) -> None:
    request = audio_pb2.SpeechRequest(model="tts-1", input="Hello", voice="alloy", speed=1.5)
    pieces = [c.audio for c in typed.CreateSpeech(request, metadata=METADATA, timeout=10)]
    assert len(pieces) > 1 and b"".join(pieces) == audio_bytes("Hello")


def test_typed_speech_cut_ends_with_an_error(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
) -> None:
    request = audio_pb2.SpeechRequest(model="tts-broken", input="cut", voice="alloy")
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for chunk in typed.CreateSpeech(request, metadata=METADATA, timeout=10):
            received.append(chunk)
    assert received and caught.value.code() != grpc.StatusCode.OK
    with pytest.raises(grpc.RpcError) as refused:
        list(typed.CreateSpeech(audio_pb2.SpeechRequest(model="tts-1", input="x"),
                               metadata=METADATA, timeout=10))  # fmt: skip
    error, _ = error_details(refused.value)
    assert error.param == "voice"

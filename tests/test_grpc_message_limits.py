"""Each typed gRPC method's own message limit: grpcio's receive limit is the server's largest
(the upload RPCs'), and a method is held to its own (`limits.max_body_bytes`, 1 MiB in the
tests' stack; a 25 MiB file for the upload RPCs), refused with RESOURCE_EXHAUSTED and OpenAI's
error fields before anything else runs."""

from __future__ import annotations

import grpc
import pytest

from llm_gateway.v1 import audio_pb2, chat_pb2, llm_gateway_service_pb2_grpc
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_transcriptions import transcript_of, wav
from tests.support.scripted_upstream import ScriptedUpstream

TWO_MIB = "x" * (2 * 1024 * 1024)


def _chat(text: str) -> chat_pb2.ChatCompletionRequest:
    return chat_pb2.ChatCompletionRequest(
        model="gpt-echo", messages=[chat_pb2.ChatMessage(role="user", text=text)]
    )


def test_a_message_over_its_methods_limit_is_refused(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    with pytest.raises(grpc.RpcError) as caught:
        typed.CreateChatCompletion(_chat(TWO_MIB), metadata=METADATA, timeout=20)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error, _ = error_details(caught.value)
    assert error.code == "request_too_large" and error.http_status == 413
    with pytest.raises(grpc.RpcError) as streamed:
        list(typed.StreamChatCompletion(_chat(TWO_MIB), metadata=METADATA, timeout=20))
    assert streamed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(upstream.requests) == before
    answer = typed.CreateChatCompletion(_chat("small"), metadata=METADATA, timeout=20)
    assert answer.choices[0].message.content == "small"


def test_an_upload_method_takes_a_larger_message(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
) -> None:
    audio = wav(2 * 1024 * 1024 / 16000)  # 2 MiB: over the chat methods' limit
    answer = typed.CreateTranscription(
        audio_pb2.TranscriptionRequest(model="whisper-1", file=audio, filename="a.wav"),
        metadata=METADATA,
        timeout=30,
    )
    assert answer.text == transcript_of(audio)

"""The typed gRPC embeddings RPC: packed floats, through a client that knows the API only by
the server's reflection (no compiled stubs), directly and through Envoy; errors as statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from llm_gateway.api.grpc.packed_vectors import with_vectors
from llm_gateway.model.embeddings import encoded
from llm_gateway.v1 import embeddings_pb2, llm_gateway_service_pb2_grpc
from tests.support import scripted_embeddings
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Stack

_SERVICE = "llm_gateway.v1.LlmGatewayService"


class ReflectedEmbeddings:
    """`CreateEmbedding` as a client that read the service from reflection calls it."""

    def __init__(self, channel: grpc.Channel) -> None:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method = pool.FindServiceByName(_SERVICE).methods_by_name["CreateEmbedding"]
        self.request_class: Any = message_factory.GetMessageClass(method.input_type)
        response_class: Any = message_factory.GetMessageClass(method.output_type)
        self.call = channel.unary_unary(
            f"/{_SERVICE}/CreateEmbedding",
            request_serializer=self.request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )


@pytest.fixture(params=["gateway", "envoy"])
def channel(request: pytest.FixtureRequest, stack: Stack) -> Iterator[grpc.Channel]:
    target = stack.grpc_target if request.param == "gateway" else stack.envoy_target
    with grpc.insecure_channel(target) as opened:
        yield opened


@pytest.mark.parametrize("model", ["text-embed-batched", "gemini-embed"])
def test_reflection_client_gets_packed_vectors_in_order(
    channel: grpc.Channel, upstream: ScriptedUpstream, model: str
) -> None:
    client = ReflectedEmbeddings(channel)
    texts = [f"text {i}" for i in range(7)]
    answer = client.call(
        client.request_class(model=model, texts=texts), metadata=METADATA, timeout=10
    )
    assert [item.index for item in answer.data] == list(range(7))
    for item, text in zip(answer.data, texts, strict=True):
        assert scripted_embeddings.close(item.values, scripted_embeddings.vector(text, 8))
    assert answer.usage.prompt_tokens > 0
    # The gateway asked an OpenAI upstream for base64 (fewer bytes than JSON numbers).
    if model == "text-embed-batched":
        assert upstream.last().body["encoding_format"] == "base64"


def test_packed_floats_are_four_bytes_each(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        answer = stub.CreateEmbedding(
            embeddings_pb2.EmbeddingRequest(model="text-embed", texts=["a"]),
            metadata=METADATA,
            timeout=10,
        )
    # The values' tag and length, then 8 floats of 4 bytes (index 0 is not written).
    assert len(answer.data[0].SerializeToString()) == 2 + 4 * 8


def test_tokens_and_dimensions(stack: Stack, upstream: ScriptedUpstream) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        request = embeddings_pb2.EmbeddingRequest(
            model="text-embed",
            tokens=[embeddings_pb2.TokenIds(ids=[1, 2]), embeddings_pb2.TokenIds(ids=[3])],
            dimensions=4,
        )
        answer = stub.CreateEmbedding(request, metadata=METADATA, timeout=10)
    assert upstream.last().body["input"] == [[1, 2], [3]]
    assert scripted_embeddings.close(answer.data[1].values, scripted_embeddings.vector([3], 4))


@pytest.mark.parametrize(
    ("request_", "code", "param"),
    [
        (
            embeddings_pb2.EmbeddingRequest(model="gpt-echo", texts=["a"]),
            "operation_not_supported",
            "model",
        ),
        (
            embeddings_pb2.EmbeddingRequest(model="text-embed", texts=["a", ""]),
            "invalid_value",
            "input[1]",
        ),
        (
            embeddings_pb2.EmbeddingRequest(
                model="text-embed", texts=["a"], tokens=[embeddings_pb2.TokenIds(ids=[1])]
            ),
            None,
            "tokens",
        ),
    ],
)
def test_errors_are_statuses_naming_the_field(
    stack: Stack, request_: embeddings_pb2.EmbeddingRequest, code: str | None, param: str
) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.CreateEmbedding(request_, metadata=METADATA, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error, _ = error_details(caught.value)
    assert error.param == param
    if code is not None:
        assert error.code == code


def test_packed_vectors_equal_messages_built_from_floats() -> None:
    items = [
        {"index": 0, "embedding": scripted_embeddings.vector("a", 3)},
        {"index": 300, "embedding": encoded(scripted_embeddings.vector("b", 200))},
        {"index": 1, "embedding": []},
    ]
    built = embeddings_pb2.EmbeddingResponse(
        data=[
            embeddings_pb2.Embedding(index=0, values=scripted_embeddings.vector("a", 3)),
            embeddings_pb2.Embedding(index=300, values=scripted_embeddings.vector("b", 200)),
            embeddings_pb2.Embedding(index=1),
        ]
    )
    assert with_vectors(embeddings_pb2.EmbeddingResponse(), items) == built

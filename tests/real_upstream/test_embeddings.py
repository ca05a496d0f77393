"""Embeddings end to end against the real all-MiniLM-L6-v2 served by the managed llama-server:
the gateway's vectors are the server's own, in order, for a batch it sends as several calls;
and they carry meaning (related sentences are closer than unrelated ones)."""

from __future__ import annotations

import math

import openai
import pytest
import requests

from tests.real_upstream.conftest import EMBEDDING_BATCH, EMBEDDING_MODEL, LocalStack
from tests.support.stack import KEY

SENTENCES = [
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Quarterly revenue rose by twelve percent.",
    "The stock market closed higher today.",
    "How do I bake sourdough bread?",
    "Recipes for homemade bread with yeast.",
    "The train to Paris leaves at noon.",
    "Photosynthesis turns light into chemical energy.",
    "She plays the violin in an orchestra.",
    "Rain is expected over the weekend.",
]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _direct(local: LocalStack, inputs: list[str]) -> list[list[float]]:
    """The server's own vectors, asked for in one call, bypassing the gateway."""
    answer = requests.post(
        f"{local.embedding_url}/v1/embeddings",
        json={"model": "all-minilm-l6-v2", "input": inputs},
        timeout=60,
    ).json()
    return [item["embedding"] for item in sorted(answer["data"], key=lambda i: i["index"])]


def test_vectors_are_the_servers_in_order_across_calls(
    client: openai.OpenAI, local: LocalStack
) -> None:
    assert len(SENTENCES) > EMBEDDING_BATCH  # several upstream calls
    answer = client.embeddings.create(model=EMBEDDING_MODEL, input=SENTENCES)
    direct = _direct(local, SENTENCES)
    assert [item.index for item in answer.data] == list(range(len(SENTENCES)))
    for item, want in zip(answer.data, direct, strict=True):
        assert len(item.embedding) == 384
        # base64 float32 through the SDK, JSON floats from the server: the same float32s.
        assert all(
            math.isclose(a, b, abs_tol=1e-6) for a, b in zip(item.embedding, want, strict=True)
        )
    assert answer.usage.prompt_tokens > len(SENTENCES)
    assert answer.usage.total_tokens == answer.usage.prompt_tokens


def test_related_sentences_are_closer_than_unrelated(client: openai.OpenAI) -> None:
    vectors = [
        item.embedding
        for item in client.embeddings.create(model=EMBEDDING_MODEL, input=SENTENCES[:4]).data
    ]
    related = _cosine(vectors[0], vectors[1])  # two cats on mats
    unrelated = _cosine(vectors[0], vectors[2])  # a cat and revenue
    assert related > 0.5 > unrelated
    assert _cosine(vectors[2], vectors[3]) > unrelated  # two pieces of finance news


def test_dimensions_are_refused_not_ignored(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING_MODEL, input="hello", dimensions=128)
    assert caught.value.param == "dimensions"


def test_the_chat_model_does_not_serve_embeddings(local: LocalStack) -> None:
    answer = requests.post(
        f"{local.stack.rest_url}/v1/embeddings",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "smollm2", "input": "hello"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "operation_not_supported"

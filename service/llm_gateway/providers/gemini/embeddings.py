"""OpenAI's embeddings request as the Gemini API's `batchEmbedContents`, and its answer back.

Each input is one `EmbedContentRequest` of a text part; `dimensions` is
`outputDimensionality`. Gemini's own options come as extensions of the OpenAI request, in
either spelling: `task_type`/`taskType` (RETRIEVAL_QUERY, RETRIEVAL_DOCUMENT, ...) and
`title` (of a RETRIEVAL_DOCUMENT). Token-id inputs have no Gemini form: a 400 naming them.
Gemini reports no token usage for embeddings: the answer's usage is estimated, one token per
four bytes of text, as the limiter estimates prompts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

from llm_gateway.model import embeddings
from llm_gateway.model.canonical import EmbeddingList, EmbeddingRequest
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.translation import unsupported

PROVIDER = "gemini"
# OpenAI request members an embed request carries (the rest are extensions).
_OPENAI_FIELDS = frozenset(("model", "input", "encoding_format", "dimensions", "user"))
# The extensions that become members of each Gemini embed request.
_PER_INPUT = {"task_type": "taskType", "taskType": "taskType", "title": "title"}


def texts_of(body: EmbeddingRequest) -> list[str]:
    """The request's inputs, which must be texts."""
    texts = []
    several = isinstance(body["input"], list) and isinstance(body["input"][0], list)
    for index, given in enumerate(embeddings.inputs_of(body)):
        if not isinstance(given, str):
            param = f"input[{index}]" if several else "input"
            raise unsupported(param, PROVIDER, "It embeds text: give strings, not token ids.")
        texts.append(given)
    return texts


def batch_request(body: EmbeddingRequest, model: str) -> dict[str, Any]:
    """The `batchEmbedContents` body for the request, the model named as Gemini names it."""
    common: dict[str, Any] = {"model": f"models/{model}"}
    fields: Mapping[str, Any] = body
    if body.get("dimensions") is not None:
        common["outputDimensionality"] = body["dimensions"]
    for name, value in fields.items():
        if name in _PER_INPUT:
            common[_PER_INPUT[name]] = value
        elif name not in _OPENAI_FIELDS:
            raise unsupported(name, PROVIDER, "Gemini's embed requests have no such member.")
    return {
        "requests": [{**common, "content": {"parts": [{"text": text}]}} for text in texts_of(body)]
    }


def embedding_list(answer: Mapping[str, Any], body: EmbeddingRequest) -> EmbeddingList:
    """The `batchEmbedContents` answer as OpenAI's embedding list, in the encoding asked for."""
    vectors = answer.get("embeddings")
    texts = texts_of(body)
    if not isinstance(vectors, list) or len(vectors) != len(texts):
        raise upstream_errors.malformed()
    data = []
    for index, vector in enumerate(vectors):
        values = vector.get("values") if isinstance(vector, dict) else None
        if not isinstance(values, list):
            raise upstream_errors.malformed()
        data.append({"object": "embedding", "index": index, "embedding": values})
    tokens = sum(math.ceil(len(text.encode()) / 4) for text in texts)
    listed = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return embeddings.as_asked(cast(EmbeddingList, listed), body.get("encoding_format"))


def with_model(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A Gemini caller's `batchEmbedContents` body with each request naming `model`."""
    requests = body.get("requests")
    named = f"models/{model}"
    return {
        **body,
        "requests": [
            {**r, "model": named} if isinstance(r, dict) else r
            for r in (requests if isinstance(requests, list) else ())
        ],
    }

"""The Gemini API's `embedContent` and `batchEmbedContents` requests, validated by Gemini's
rules, as canonical (OpenAI) embeddings requests, and OpenAI's embedding list as their answers.

A request to a Gemini upstream is passed through as it came; any other upstream gets the
texts of each request's parts as one input each, `outputDimensionality` as `dimensions`. What
an OpenAI-shaped upstream has no place for (`taskType`, `title`) is left out and named, as any
translation's dropped field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import orjson

from llm_gateway.api.gemini.response import error_body
from llm_gateway.api.gemini.validation import member
from llm_gateway.api.rest.exchange import StreamEncoder, StreamFramer
from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model import field_checks as check
from llm_gateway.model.canonical import CanonicalAnswer, EmbeddingRequest, as_embeddings
from llm_gateway.model.embeddings import vector_of
from llm_gateway.model.request import GenerationRequest, Translation
from llm_gateway.model.wire import WireAnswer

# Gemini's limit on the requests of one batch.
MAX_BATCH = 100
# Members of an embed request that OpenAI's request has no place for.
_NOT_CARRIED = ("taskType", "title")


def _text(request: Any, where: str) -> str:
    """The text of an embed request's content: its parts' texts, joined."""
    content = member(request, "content")
    check.required(content, f"{where}.content")
    check.mapping(content, f"{where}.content")
    check.required(member(content, "parts"), f"{where}.content.parts")
    parts = check.items(member(content, "parts"), f"{where}.content.parts", at_least=1)
    texts = []
    for index, part in enumerate(parts):
        text = member(part, "text")
        if not isinstance(text, str):
            raise invalid_request(
                f"{where}.content.parts[{index}]: only text parts can be embedded",
                f"{where}.content.parts[{index}]",
            )
        texts.append(text)
    return "".join(texts)


def _dimensions(request: Any, where: str) -> int | None:
    value = member(request, "outputDimensionality")
    check.integer(value, f"{where}.outputDimensionality", 1, 65536)
    return cast(int | None, value)


def requests_of(body: Any, batch: bool) -> list[Any]:
    """The embed requests of a call: the body itself, or a batch's `requests`."""
    if not isinstance(body, dict):
        raise invalid_request("Invalid JSON payload received: the body must be an object.")
    if not batch:
        return [body]
    requests = member(body, "requests")
    check.required(requests, "requests")
    listed = check.items(requests, "requests", at_least=1)
    if len(listed) > MAX_BATCH:
        raise invalid_request(
            f"requests: at most {MAX_BATCH} requests are allowed in a batch", "requests"
        )
    return listed


def validated(body: Any, batch: bool) -> dict[str, Any]:
    """The body, checked by Gemini's rules (every request's text parts, its dimensions)."""
    for index, request in enumerate(requests_of(body, batch)):
        where = f"requests[{index}]" if batch else "request"
        check.mapping(request, where)
        _text(request, where)
        _dimensions(request, where)
    return cast(dict[str, Any], body)


def translation(model: str, body: dict[str, Any], batch: bool) -> Translation:
    """The canonical request for any upstream but Gemini's, and what it leaves out."""
    requests = requests_of(body, batch)
    where = [f"requests[{i}]" if batch else "request" for i in range(len(requests))]
    texts = [_text(r, w) for r, w in zip(requests, where, strict=True)]
    sizes = {_dimensions(r, w) for r, w in zip(requests, where, strict=True)}
    if len(sizes) > 1:
        raise invalid_request(
            "requests: every request of a batch must ask for the same "
            "outputDimensionality when the model is not served by Gemini",
            "requests",
        )
    canonical: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "float"}
    (size,) = sizes
    if size is not None:
        canonical["dimensions"] = size
    dropped = sorted(
        {
            f"{'requests[].' if batch else ''}{name}"
            for request in requests
            for name in _NOT_CARRIED
            if member(request, name) is not None
        }
    )
    return Translation(cast(EmbeddingRequest, canonical), tuple(dropped))


def sizing(body: dict[str, Any], batch: bool) -> Mapping[str, Any]:
    """What admission estimates tokens from (OpenAI's names): the texts, no output."""
    texts = [member(member(r, "content"), "parts") for r in requests_of(body, batch)]
    return {"prompt": texts, "max_tokens": 0}


class GeminiEmbeddingDialect:
    """`embedContent` (one vector) or `batchEmbedContents` (one per request) answers, and
    Gemini's errors. Embeddings never stream."""

    stream_content_type = "application/json"

    def __init__(self, batch: bool) -> None:
        self._batch = batch

    def answer(self, answer: CanonicalAnswer) -> bytes:
        vectors = [
            {"values": list(vector_of(item))}
            for item in sorted(as_embeddings(answer)["data"], key=lambda item: item["index"])
        ]
        if self._batch:
            return orjson.dumps({"embeddings": vectors})
        return orjson.dumps({"embedding": vectors[0] if vectors else {"values": []}})

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error_body(error))

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        raise AssertionError("embeddings never stream")

    def framer(self) -> StreamFramer:
        raise AssertionError("embeddings never stream")


EMBED = GeminiEmbeddingDialect(batch=False)
BATCH_EMBED = GeminiEmbeddingDialect(batch=True)

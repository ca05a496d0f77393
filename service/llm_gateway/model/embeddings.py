"""What every embeddings upstream needs done to OpenAI's embeddings shapes: a request's inputs
as a list, split into calls an upstream takes, the answers joined back in order, and vectors
written as the caller asked (floats, or base64 of little-endian float32, as OpenAI sends them).
"""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Mapping, Sequence
from typing import Any, cast

from llm_gateway.model.canonical import (
    Embedding,
    EmbeddingInput,
    EmbeddingList,
    EmbeddingRequest,
)

# OpenAI's answer carries float32 values; base64 is of their little-endian bytes.
_LITTLE_ENDIAN = sys.byteorder == "little"


def inputs_of(body: Mapping[str, Any]) -> list[EmbeddingInput]:
    """The request's inputs, one per vector asked for: a string or a token list alone is one
    input, a list of strings or of token lists is several."""
    given = body.get("input")
    if isinstance(given, str):
        return [given]
    if isinstance(given, list) and given and all(isinstance(i, int) for i in given):
        return [cast(list[int], given)]
    return list(given) if isinstance(given, list) else []


def batches(body: EmbeddingRequest, size: int) -> list[EmbeddingRequest]:
    """The request as calls of at most `size` inputs each, in order (itself when it fits)."""
    inputs = inputs_of(body)
    if len(inputs) <= size:
        return [body]
    return [
        cast(EmbeddingRequest, {**body, "input": inputs[start : start + size]})
        for start in range(0, len(inputs), size)
    ]


def joined(answers: Sequence[Mapping[str, Any]]) -> EmbeddingList:
    """One answer for the calls `batches` made, the vectors indexed as the caller's inputs and
    the usage summed; the first answer's other members are kept."""
    data: list[Embedding] = []
    prompt = total = 0
    for answer in answers:
        part = answer.get("data")
        offset = len(data)
        for item in sorted(part if isinstance(part, list) else (), key=_index):
            data.append(cast(Embedding, {**item, "index": offset + _index(item)}))
        usage = answer.get("usage")
        if isinstance(usage, dict):
            prompt += int(usage.get("prompt_tokens") or 0)
            total += int(usage.get("total_tokens") or 0)
    first = dict(answers[0])
    first.update(data=data, usage={"prompt_tokens": prompt, "total_tokens": total})
    return cast(EmbeddingList, first)


def _index(item: Mapping[str, Any]) -> int:
    index = item.get("index")
    return index if isinstance(index, int) else 0


def encoded(vector: Sequence[float]) -> str:
    """A vector as OpenAI's `base64` encoding writes it."""
    values = array.array("f", vector)
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def decoded(text: str) -> array.array[float]:
    """The floats of a vector in OpenAI's `base64` encoding."""
    values = array.array("f")
    values.frombytes(base64.b64decode(text))
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values


def vector_of(item: Mapping[str, Any]) -> Sequence[float]:
    """The floats of one answer item, whichever encoding it came in."""
    embedding = item.get("embedding")
    if isinstance(embedding, str):
        return decoded(embedding)
    return cast(list[float], embedding) if isinstance(embedding, list) else []


def float32_bytes(item: Mapping[str, Any]) -> bytes:
    """The little-endian float32 bytes of one answer item's vector, whichever encoding it
    came in (base64 is those bytes already)."""
    embedding = item.get("embedding")
    if isinstance(embedding, str):
        return base64.b64decode(embedding)
    values = array.array("f", embedding if isinstance(embedding, list) else ())
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values.tobytes()


def as_asked(answer: EmbeddingList, encoding: str | None) -> EmbeddingList:
    """The answer with its vectors in the encoding the caller asked for (`float` when it
    asked for none), from whichever the upstream gave."""
    want_base64 = encoding == "base64"
    for item in answer["data"]:
        vector = item["embedding"]
        if want_base64 and not isinstance(vector, str):
            item["embedding"] = encoded(vector)
        elif not want_base64 and isinstance(vector, str):
            item["embedding"] = decoded(vector).tolist()
    return answer

"""Writes the vectors of an embedding list as `EmbeddingResponse.data` in protobuf's wire
format, straight from their float32 bytes.

A packed `repeated float` on the wire is the values' little-endian float32 bytes: exactly what
an OpenAI upstream's base64 decodes to. Building `Embedding` messages from Python floats
turns 1.5 million floats of a 1,000 x 1,536 batch into Python objects and back (64 ms here);
parsing these bytes into the message costs a copy (28 ms, base64 decoding included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llm_gateway.model.embeddings import float32_bytes
from llm_gateway.v1 import embeddings_pb2

# Field numbers and wire types of `EmbeddingResponse.data`, `Embedding.index` and
# `Embedding.values` (embeddings.proto): tag = number << 3 | type (0 varint, 2 bytes).
_DATA = bytes([1 << 3 | 2])
_INDEX = bytes([1 << 3 | 0])
_VALUES = bytes([2 << 3 | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _embedding(index: int, values: bytes) -> bytes:
    inner = (_INDEX + _varint(index) if index else b"") + _VALUES + _varint(len(values)) + values
    return _DATA + _varint(len(inner)) + inner


def with_vectors(
    response: embeddings_pb2.EmbeddingResponse, items: Iterable[Mapping[str, Any]]
) -> embeddings_pb2.EmbeddingResponse:
    """`response` with an `Embedding` per item (its `index`, its vector) appended to `data`."""
    encoded = b"".join(
        _embedding(index if isinstance(index := item.get("index"), int) else 0,
                   float32_bytes(item))
        for item in items
    )  # fmt: skip
    response.MergeFromString(encoded)
    return response

"""An embeddings request and its answer in the canonical form: OpenAI's `/v1/embeddings`."""

from __future__ import annotations

from typing import Literal, Required, TypedDict

# One input: a text, or the token ids of one.
EmbeddingInput = str | list[int]


class EmbeddingRequest(TypedDict, total=False):
    """A `/v1/embeddings` request."""

    model: Required[str]
    input: Required[str | list[str] | list[int] | list[list[int]]]
    encoding_format: Literal["float", "base64"]
    dimensions: int
    user: str


class Embedding(TypedDict):
    """The vector of one input, at the input's index: floats, or (with `encoding_format:
    base64`) the base64 of their little-endian float32 bytes."""

    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingUsage(TypedDict):
    """The input tokens of an embeddings call (there is no output)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingList(TypedDict):
    """The answer of an embeddings call: a vector per input, in the inputs' order."""

    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage

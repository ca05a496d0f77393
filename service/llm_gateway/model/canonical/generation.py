"""What a provider is sent and gives back, for each endpoint.

The endpoint (`model.request.Endpoint`) travels beside the body and says which member of each
union it is: chat completions for `CHAT`, legacy completions for `COMPLETIONS`, an embedding
list for `EMBEDDINGS`, moderation results for `MODERATIONS` (neither ever streams), and images
for the image endpoints.
"""

from __future__ import annotations

from typing import cast

from llm_gateway.model.canonical.chat_chunk import ChatChunk
from llm_gateway.model.canonical.chat_completion import ChatCompletion
from llm_gateway.model.canonical.chat_request import ChatRequest
from llm_gateway.model.canonical.embeddings import EmbeddingList, EmbeddingRequest
from llm_gateway.model.canonical.images import ImageList, ImageRequest
from llm_gateway.model.canonical.moderations import ModerationList, ModerationRequest
from llm_gateway.model.canonical.text_completion import CompletionRequest, TextCompletion

CanonicalRequest = (
    ChatRequest | CompletionRequest | EmbeddingRequest | ModerationRequest | ImageRequest
)
CanonicalAnswer = ChatCompletion | TextCompletion | EmbeddingList | ModerationList | ImageList
# A legacy completion's stream chunks have its answer's shape.
CanonicalChunk = ChatChunk | TextCompletion


def as_chat(answer: CanonicalAnswer) -> ChatCompletion:
    """The answer to a chat request: its request's endpoint, not the answer, says it is one
    (an upstream's answer is only as complete as the upstream made it)."""
    return cast(ChatCompletion, answer)


def as_chat_chunk(chunk: CanonicalChunk) -> ChatChunk:
    """A chunk of a streamed chat request's answer (see `as_chat`)."""
    return cast(ChatChunk, chunk)


def as_embeddings(answer: CanonicalAnswer) -> EmbeddingList:
    """The answer to an embeddings request (see `as_chat`)."""
    return cast(EmbeddingList, answer)

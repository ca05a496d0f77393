"""The canonical model: the typed form every cross-family request, answer and stream chunk takes.

It is OpenAI's chat completions shape (so an OpenAI-compatible upstream is sent it as it is),
with three fields of the gateway's own that carry what other families have and OpenAI's chat
API does not: `top_k` on a request, and `reasoning_content` (the model's reasoning text, as
vLLM and DeepSeek name it) and `reasoning_signature` (an upstream's signature of that
reasoning, see `model.reasoning`) on assistant messages and stream deltas. At run time each is
a plain dict, so an OpenAI caller's fields this model does not name (`extra_body`) travel
along; they are read only through `providers.translation.extensions`.
"""

from llm_gateway.model.canonical.chat_chunk import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from llm_gateway.model.canonical.chat_completion import AnswerMessage, ChatCompletion, Choice
from llm_gateway.model.canonical.chat_request import (
    ChatRequest,
    FunctionDefinition,
    JsonSchemaFormat,
    NamedToolChoice,
    ResponseFormat,
    StreamOptions,
    Tool,
    ToolChoice,
)
from llm_gateway.model.canonical.embeddings import (
    Embedding,
    EmbeddingInput,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
)
from llm_gateway.model.canonical.generation import (
    CanonicalAnswer,
    CanonicalChunk,
    CanonicalRequest,
    as_chat,
    as_chat_chunk,
    as_embeddings,
)
from llm_gateway.model.canonical.images import ImageList, ImageRequest
from llm_gateway.model.canonical.messages import (
    ChatMessage,
    Content,
    ContentPart,
    FunctionCall,
    ImageUrl,
    Role,
    ToolCall,
)
from llm_gateway.model.canonical.moderations import ModerationList, ModerationRequest
from llm_gateway.model.canonical.text_completion import (
    CompletionChoice,
    CompletionRequest,
    TextCompletion,
)
from llm_gateway.model.canonical.usage import CompletionUsage

__all__ = [
    "AnswerMessage",
    "CanonicalAnswer",
    "CanonicalChunk",
    "CanonicalRequest",
    "ChatChunk",
    "ChatCompletion",
    "ChatMessage",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "CompletionChoice",
    "CompletionRequest",
    "CompletionUsage",
    "Content",
    "ContentPart",
    "Delta",
    "Embedding",
    "EmbeddingInput",
    "EmbeddingList",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "FunctionCall",
    "FunctionDefinition",
    "ImageList",
    "ImageRequest",
    "ImageUrl",
    "JsonSchemaFormat",
    "ModerationList",
    "ModerationRequest",
    "NamedToolChoice",
    "ResponseFormat",
    "Role",
    "StreamOptions",
    "TextCompletion",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "as_chat",
    "as_chat_chunk",
    "as_embeddings",
]

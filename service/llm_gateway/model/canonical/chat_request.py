"""A chat completion request in the canonical form."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

from llm_gateway.model.canonical.messages import ChatMessage


class FunctionDefinition(TypedDict, total=False):
    """A function the model may call, its parameters as a JSON schema."""

    name: Required[str]
    description: str
    parameters: dict[str, Any]
    strict: bool | None


class Tool(TypedDict, total=False):
    """A tool of the request: a `function` (the only kind other families have), or another
    of OpenAI's kinds (`custom`), which crosses to no other family."""

    type: Required[str]
    function: FunctionDefinition


class _NamedFunction(TypedDict):
    name: str


class NamedToolChoice(TypedDict):
    """A `tool_choice` that forces one function."""

    type: Literal["function"]
    function: _NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class JsonSchemaFormat(TypedDict, total=False):
    """The schema a `json_schema` answer must follow."""

    name: Required[str]
    description: str
    schema: dict[str, Any]
    strict: bool | None


class ResponseFormat(TypedDict, total=False):
    """The answer's format: `text`, `json_object` or `json_schema`."""

    type: Required[Literal["text", "json_object", "json_schema"]]
    json_schema: JsonSchemaFormat


class StreamOptions(TypedDict, total=False):
    """Options of a streamed request."""

    include_usage: bool
    include_obfuscation: bool


class ChatRequest(TypedDict, total=False):
    """A chat completion request: OpenAI's fields that cross to other families by name, and
    the gateway's `top_k` (Anthropic's and Gemini's sampling cut-off)."""

    model: Required[str]
    messages: Required[list[ChatMessage]]
    max_tokens: int | None
    max_completion_tokens: int | None
    n: int | None
    temperature: float | None
    top_p: float | None
    top_k: int
    stop: str | list[str] | None
    seed: int | None
    presence_penalty: float | None
    frequency_penalty: float | None
    tools: list[Tool]
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    response_format: ResponseFormat
    reasoning_effort: str | None
    stream: bool | None
    stream_options: StreamOptions | None
    user: str
    metadata: dict[str, str] | None
    logprobs: bool | None
    top_logprobs: int | None

"""A chat conversation's turns, their content parts and the tool calls an assistant makes."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ImageUrl(TypedDict, total=False):
    """An image, by URL or as a `data:` URL of its bytes."""

    url: Required[str]
    detail: str


class ContentPart(TypedDict, total=False):
    """One part of a message's content: `text`, `image_url`, `input_audio`, `file` or
    `refusal`, with the member its type names."""

    type: Required[str]
    text: str
    image_url: ImageUrl
    input_audio: dict[str, Any]
    file: dict[str, Any]
    refusal: str


Content = str | list[ContentPart] | None


class FunctionCall(TypedDict):
    """The function a tool call calls, with its arguments as JSON text."""

    name: str
    arguments: str


class ToolCall(TypedDict, total=False):
    """A call an assistant made to one of the request's tools: a `function` call (the only
    kind other families have, and the only kind an answer translated from them holds), or
    another of OpenAI's kinds (`custom`, with its member of that name)."""

    id: Required[str]
    type: Required[str]
    function: FunctionCall
    custom: dict[str, Any]


class ChatMessage(TypedDict, total=False):
    """One turn of a conversation. `tool_call_id` is set on a `tool` turn; `tool_calls`,
    `reasoning_content` and `reasoning_signature` on an `assistant` turn."""

    role: Required[Role]
    content: Content
    name: str
    tool_calls: list[ToolCall]
    tool_call_id: str
    refusal: str | None
    reasoning_content: str
    reasoning_signature: str

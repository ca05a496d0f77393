"""The canonical (OpenAI) chat request as an Anthropic Messages API request.

System and developer messages become `system`; consecutive turns of one role are merged (the
Messages API wants user and assistant to alternate), tool results become `tool_result` blocks
of a user turn, placed before its other content as Anthropic requires. `response_format` with a
JSON schema is served by a forced tool whose input is the JSON answer (`JSON_TOOL`), which every
Anthropic model and API version supports (unlike `output_config.format`); the response
translation turns it back into message content. `reasoning_effort` is `output_config.effort`.
Request fields the canonical model does not name (an OpenAI caller's `extra_body`, such as
`thinking`) go into the Anthropic body as they are.
"""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import invalid_request
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import ChatMessage, ChatRequest, Content, ContentPart
from llm_gateway.model.tool_calls import arguments_object
from llm_gateway.model.wire import ApiFamily
from llm_gateway.providers.translation import (
    NOT_ON_CHAT_ONLY_PROVIDERS,
    content_text,
    extensions,
    forced_function,
    function_tools,
    json_schema_of,
    max_tokens,
    refuse_unhonourable,
    split_data_url,
    stop_sequences,
    unsupported,
)

PROVIDER = "anthropic"
# The forced tool that carries a JSON answer; the response translation unwraps it.
JSON_TOOL = "json_output"

# The modelled fields this module translates (any other is refused or a platform hint).
TRANSLATED = frozenset(
    (
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "response_format",
        "reasoning_effort",
        "top_k",
        "stream",
        "stream_options",
    )
)
# OpenAI's `reasoning_effort` words that Anthropic's `output_config.effort` shares.
_EFFORTS = frozenset(("low", "medium", "high", "xhigh", "max"))
HONOURABLE = {
    **NOT_ON_CHAT_ONLY_PROVIDERS,
    "reasoning_effort": lambda v: v is None or v in _EFFORTS,
    "n": lambda v: v in (None, 1),
    "presence_penalty": lambda v: v in (None, 0),
    "frequency_penalty": lambda v: v in (None, 0),
    "seed": lambda v: v is None,
}


# OpenAI's `tool_choice` words → Anthropic's.
_TOOL_CHOICES = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


def _image(part: ContentPart) -> dict[str, Any]:
    image = part.get("image_url")
    url = image["url"] if image is not None else ""
    inline = split_data_url(url)
    if inline is not None:
        source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
    else:
        source = {"type": "url", "url": url}
    return {"type": "image", "source": source}


def _user_blocks(content: Content, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for index, part in enumerate(content or ()):
        kind = part["type"]
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(_image(part))
        else:
            raise unsupported(f"{param}[{index}]", PROVIDER, f"Parts of type '{kind}' are not.")
    return blocks


def _assistant_blocks(message: ChatMessage, param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    signature = reasoning.signature_for(ApiFamily.ANTHROPIC, message.get("reasoning_signature"))
    if signature is not None:
        # The thinking block Anthropic signed, rebuilt first in its turn as Anthropic wants it
        # back (with thinking on, a tool-use turn without it is refused).
        thinking = message.get("reasoning_content")
        if not isinstance(thinking, str):  # a caller's value: the signature covers text only
            thinking = ""
        blocks.append({"type": "thinking", "thinking": thinking, "signature": signature})
    text = content_text(message.get("content"), f"{param}.content", PROVIDER)
    if text:
        blocks.append({"type": "text", "text": text})
    for index, call in enumerate(message.get("tool_calls") or ()):
        if call["type"] != "function":
            raise unsupported(f"{param}.tool_calls[{index}]", PROVIDER)
        function = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": arguments_object(
                    function["arguments"], f"{param}.tool_calls[{index}].function.arguments"
                ),
            }
        )
    return blocks


def _tool_result(message: ChatMessage, param: str) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id"),
        "content": content_text(message.get("content"), f"{param}.content", PROVIDER),
    }


def _turns(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns (system blocks, alternating turns)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role, param = message["role"], f"messages[{index}]"
        if role in ("system", "developer"):
            text = content_text(message.get("content"), f"{param}.content", PROVIDER)
            system.append({"type": "text", "text": text})
            continue
        if role == "user":
            wire_role, blocks = "user", _user_blocks(message.get("content"), f"{param}.content")
        elif role == "assistant":
            wire_role, blocks = "assistant", _assistant_blocks(message, param)
        elif role == "tool":
            wire_role, blocks = "user", [_tool_result(message, param)]
        else:
            raise unsupported(f"{param}.role", PROVIDER, f"The role '{role}' is not.")
        if turns and turns[-1]["role"] == wire_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": wire_role, "content": blocks})
    for turn in turns:
        # Tool results lead their user turn; the sort is stable, so order is kept otherwise.
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return system, turns


def _tools(body: ChatRequest) -> list[dict[str, Any]]:
    tools = []
    for function in function_tools(body, PROVIDER):
        tool: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            tool["description"] = function["description"]
        tools.append(tool)
    return tools


def _tool_choice(body: ChatRequest) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        wire: dict[str, Any] | None = {"type": "tool", "name": forced_function(choice, PROVIDER)}
    else:
        wire = _TOOL_CHOICES.get(choice or "")
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        wire = {**(wire or {"type": "auto"}), "disable_parallel_tool_use": True}
    return wire


def messages_request(body: ChatRequest, default_max_tokens: int) -> dict[str, Any]:
    """Returns the Messages API body for a canonical chat request body."""
    refuse_unhonourable(body, HONOURABLE, PROVIDER)
    system, turns = _turns(body["messages"])
    wire: dict[str, Any] = {
        "model": body["model"],
        "messages": turns,
        "max_tokens": max_tokens(body) or default_max_tokens,
    }
    if system:
        wire["system"] = system
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            wire[name] = body[name]
    if stops := stop_sequences(body):
        wire["stop_sequences"] = stops
    if tools := _tools(body):
        wire["tools"] = tools
    if (choice := _tool_choice(body)) is not None:
        wire["tool_choice"] = choice
    if body.get("user"):
        wire["metadata"] = {"user_id": body["user"]}
    schema = json_schema_of(body.get("response_format"))
    if schema is not None:
        if body.get("tools"):
            raise unsupported(
                "response_format", PROVIDER, "A JSON answer cannot be combined with tools."
            )
        wire["tools"] = [
            {
                "name": JSON_TOOL,
                "description": f"Answer with JSON that matches the schema '{schema[0]}'.",
                "input_schema": schema[1],
            }
        ]
        wire["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    if body.get("reasoning_effort") is not None:
        wire["output_config"] = {"effort": body["reasoning_effort"]}
    if body.get("stream"):
        wire["stream"] = True
    extra = extensions(body)
    if "system" in extra:
        raise invalid_request("Give the system prompt as a message.", "system")
    wire.update(extra)
    return wire

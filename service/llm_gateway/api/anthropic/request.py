"""An Anthropic Messages API request as the canonical (OpenAI) chat request, for upstreams of
another family (an Anthropic upstream is sent the request as it came).

`system` becomes a system message; a user turn's `tool_result` blocks become `tool` messages
(placed before the rest of the turn), an assistant turn's `tool_use` blocks its `tool_calls`.
Images keep their source (base64 as a `data:` URL); `top_k` is the canonical `top_k`;
`thinking` with a budget is a `reasoning_effort` of its size. What the canonical form cannot
carry (adaptive `thinking`, `context_management`, `cache_control` markers, earlier thinking
blocks, ...) is left out and named in the translation's `dropped`, never
passed on into another API's body. Errors name Anthropic's parameters (`messages.0.content.1`).
"""

from __future__ import annotations

from typing import Any, Literal

from llm_gateway.errors import invalid_request
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import (
    ChatMessage,
    ChatRequest,
    ContentPart,
    FunctionDefinition,
    Tool,
    ToolCall,
)
from llm_gateway.model.request import Translation
from llm_gateway.model.tool_calls import tool_call

# Anthropic's fields that are translated; any other travels on as an extension.
_TRANSLATED = frozenset(
    (
        "model",
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "temperature",
        "top_p",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "output_config",
        "top_k",
        "thinking",
    )
)


# Anthropic's `tool_choice` kinds that OpenAI names with a word.
_TOOL_CHOICES: dict[str, Literal["auto", "required", "none"]] = {
    "auto": "auto",
    "any": "required",
    "none": "none",
}
# The largest `thinking.budget_tokens` each canonical `reasoning_effort` stands for.
_EFFORT_BUDGETS = (("low", 4096), ("medium", 16384))


class _Dropped:
    """The caller's fields a translation leaves out, each named once, in order."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def add(self, name: str) -> None:
        self.names[name] = None

    def markers(self, block: Any, where: str) -> None:
        if isinstance(block, dict) and "cache_control" in block:
            self.add(f"{where}.cache_control")


def _require(condition: bool, message: str, param: str) -> None:
    if not condition:
        raise invalid_request(message, param)


def _text(content: Any, param: str, dropped: _Dropped, name: str) -> str:
    """The text of content given as a string or a list of text blocks (`name`: the field's
    name without indexes, for reporting dropped markers)."""
    if isinstance(content, str):
        return content
    _require(isinstance(content, list), f"{param}: expected a string or a list of blocks", param)
    texts = []
    for index, block in enumerate(content):
        where = f"{param}.{index}"
        _require(
            isinstance(block, dict) and block.get("type") == "text",
            f"{where}: expected a text block",
            where,
        )
        dropped.markers(block, name)
        texts.append(str(block.get("text", "")))
    return "".join(texts)


def _image_part(block: dict[str, Any], param: str) -> ContentPart:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url":
        url = str(source.get("url"))
    else:
        raise invalid_request(f"{param}.source: unsupported image source", f"{param}.source")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_message(block: dict[str, Any], param: str, dropped: _Dropped) -> ChatMessage:
    content = block.get("content", "")
    text = (
        _text(content, f"{param}.content", dropped, "messages.content.content") if content else ""
    )
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text}


def _user_messages(content: Any, param: str, dropped: _Dropped) -> list[ChatMessage]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    _require(isinstance(content, list), f"{param}: expected a string or a list of blocks", param)
    tools: list[ChatMessage] = []
    parts: list[ContentPart] = []
    for index, block in enumerate(content):
        where, kind = f"{param}.{index}", block.get("type") if isinstance(block, dict) else None
        dropped.markers(block, "messages.content")
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, where))
        elif kind == "tool_result":
            tools.append(_tool_message(block, where, dropped))
        else:
            raise invalid_request(f"{where}: blocks of type {kind!r} are not supported", where)
    if parts:
        tools.append({"role": "user", "content": parts})
    return tools


def _assistant_message(content: Any, param: str, dropped: _Dropped) -> ChatMessage:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    _require(isinstance(content, list), f"{param}: expected a string or a list of blocks", param)
    texts: list[str] = []
    calls: list[ToolCall] = []
    signature: str | None = None
    for index, block in enumerate(content):
        where, kind = f"{param}.{index}", block.get("type") if isinstance(block, dict) else None
        dropped.markers(block, "messages.content")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "thinking" and reasoning.is_minted(block.get("signature")):
            # The gateway's own: it carries what another upstream signed, back to it.
            signature = signature or reasoning.carried(block["signature"])
        elif kind in ("thinking", "redacted_thinking"):
            # Earlier reasoning, signed for Anthropic: no other API can take it back.
            dropped.add(f"messages.content.{kind}")
        else:
            raise invalid_request(f"{where}: blocks of type {kind!r} are not supported", where)
    message: ChatMessage = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if signature is not None:
        message["reasoning_signature"] = signature
    return message


def _messages(body: dict[str, Any], dropped: _Dropped) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    if body.get("system"):
        system = _text(body["system"], "system", dropped, "system")
        messages.append({"role": "system", "content": system})
    turns = body.get("messages") or []
    _require(
        isinstance(turns, list) and bool(turns),
        "messages: at least one message is required",
        "messages",
    )
    for index, turn in enumerate(turns):
        param = f"messages.{index}"
        role = turn.get("role") if isinstance(turn, dict) else None
        if role == "user":
            messages.extend(_user_messages(turn.get("content"), f"{param}.content", dropped))
        elif role == "assistant":
            messages.append(_assistant_message(turn.get("content"), f"{param}.content", dropped))
        elif role == "system":  # the beta API's mid-conversation instructions
            if "output_config" in turn:
                dropped.add("messages.output_config")
            if turn.get("content"):
                text = _text(turn["content"], f"{param}.content", dropped, "messages.content")
                messages.append({"role": "system", "content": text})
        else:
            raise invalid_request(
                f"{param}.role: expected 'user', 'assistant' or 'system'", f"{param}.role"
            )
    return messages


def _tools(tools: Any, dropped: _Dropped) -> list[Tool]:
    _require(isinstance(tools, list), "tools: expected a list", "tools")
    functions: list[Tool] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        dropped.markers(tool, "tools")
        _require(
            isinstance(tool, dict)
            and tool.get("type") in (None, "custom")
            and bool(tool.get("name")),
            f"{where}: only client tools with a name and an input_schema are supported",
            where,
        )
        function: FunctionDefinition = {
            "name": str(tool["name"]),
            "parameters": tool.get("input_schema") or {"type": "object"},
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(choice: dict[str, Any], body: ChatRequest) -> None:
    kind = choice.get("type")
    if kind == "tool":
        name = str(choice.get("name") or "")
        body["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind in _TOOL_CHOICES:
        body["tool_choice"] = _TOOL_CHOICES[kind]
    else:
        raise invalid_request(
            "tool_choice.type: expected auto, any, tool or none", "tool_choice.type"
        )
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False


def _output_config(config: dict[str, Any], body: ChatRequest) -> None:
    """Structured output and effort, which OpenAI calls `response_format` and
    `reasoning_effort` (with the same effort words)."""
    output_format = config.get("format")
    if isinstance(output_format, dict):
        _require(
            output_format.get("type") == "json_schema",
            "output_config.format.type: expected json_schema",
            "output_config.format.type",
        )
        schema = output_format.get("schema") or {"type": "object"}
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
    if config.get("effort") is not None:
        body["reasoning_effort"] = config["effort"]
    unknown = sorted(set(config) - {"format", "effort"})
    if unknown:
        param = f"output_config.{unknown[0]}"
        raise invalid_request(f"{param}: not supported by this gateway", param)


def _reasoning(thinking: Any, body: ChatRequest, dropped: _Dropped) -> None:
    """Extended thinking with a budget is the canonical `reasoning_effort` of its size;
    adaptive thinking (the model's own effort) has no counterpart."""
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "enabled":
        budget = thinking.get("budget_tokens") or 0
        body["reasoning_effort"] = next(
            (effort for effort, most in _EFFORT_BUDGETS if budget <= most), "high"
        )
    elif kind == "adaptive":
        dropped.add("thinking")


def translation(wire: dict[str, Any]) -> Translation:
    """The canonical chat request for a Messages API request body that passed validation."""
    dropped = _Dropped()
    body: ChatRequest = {
        "model": wire["model"],
        "messages": _messages(wire, dropped),
        # OpenAI's current name: reasoning models refuse the deprecated `max_tokens`.
        "max_completion_tokens": wire["max_tokens"],
    }
    if wire.get("temperature") is not None:
        body["temperature"] = wire["temperature"]
    if wire.get("top_p") is not None:
        body["top_p"] = wire["top_p"]
    if wire.get("top_k") is not None:
        body["top_k"] = wire["top_k"]
    if wire.get("stop_sequences"):
        body["stop"] = wire["stop_sequences"]
    if wire.get("tools"):
        body["tools"] = _tools(wire["tools"], dropped)
    if isinstance(wire.get("tool_choice"), dict):
        _tool_choice(wire["tool_choice"], body)
    user = (wire.get("metadata") or {}).get("user_id")
    if user:
        body["user"] = user
    _reasoning(wire.get("thinking"), body, dropped)
    if isinstance(wire.get("output_config"), dict):
        _output_config(wire["output_config"], body)  # its `effort` wins over a budget
    if wire.get("stream"):
        # Anthropic's stream always ends with the usage, so the canonical one must carry it.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for name in wire:
        if name not in _TRANSLATED:
            dropped.add(name)
    return Translation(body, tuple(dropped.names))


def sizing(wire: dict[str, Any]) -> dict[str, Any]:
    """What admission (or a token count) estimates tokens from, in OpenAI's names."""
    messages = [wire.get("system"), wire.get("messages"), wire.get("tools")]
    return {"messages": messages, "max_tokens": wire.get("max_tokens")}

"""A Responses API request as the canonical (OpenAI) chat request, for any provider.

The conversation is the items of earlier stored responses (`previous_response_id`, read from
the store beforehand), then `instructions` as a system message, then `input`: a string, or a
list of items. Messages keep their parts (text, images, files); an assistant's `function_call`
items become its `tool_calls`, `function_call_output` items `tool` messages, and a `reasoning`
item the next assistant turn's reasoning: its text, and the signature the gateway gave it
(`encrypted_content`), which carries the upstream's own back to it. Function tools, the tool
choice, `text.format` and `reasoning.effort` have canonical counterparts (a `namespace`
tool's functions are functions whose names carry the namespace: `crm__lookup`); the state and
stream options are the gateway's own; what nothing carries is named in `dropped`. Built-in
tools (web search, file search, code interpreter, MCP, ...) are refused with a 400 naming the
tool: no provider serves them here. Errors name the Responses API's own parameters
(`input[2].content[0].image_url`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NoReturn

from llm_gateway.api.responses import compaction
from llm_gateway.errors import invalid_request
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import (
    ChatMessage,
    ChatRequest,
    ContentPart,
    FunctionDefinition,
    ResponseFormat,
    Tool,
    ToolCall,
)
from llm_gateway.model.request import Translation

# Fields the gateway handles itself: the state, the stream and what the answer echoes.
_OWN = frozenset(
    (
        "model",
        "input",
        "instructions",
        "previous_response_id",
        "conversation",
        "background",
        "store",
        "stream",
        "metadata",
        "include",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "max_output_tokens",
        "truncation",
        "top_logprobs",
        "stream_options",
    )
)
# Fields with the same name and meaning in the canonical request.
_SAME = ("temperature", "top_p", "parallel_tool_calls", "user", "prompt_cache_key")
_SAME_HINTS = ("safety_identifier", "service_tier", "prompt_cache_retention")
# Fields whose every value asks for something the gateway cannot give yet.
_REFUSED = {
    "prompt": "Prompt templates are kept by OpenAI's platform; send 'instructions' and "
    "'input' instead.",
}
# What `include` may ask for that the gateway gives.
_INCLUDED = frozenset(("reasoning.encrypted_content", "message.output_text.logprobs"))
_CHOICES: dict[str, Literal["auto", "required", "none"]] = {
    "auto": "auto",
    "required": "required",
    "none": "none",
}


def _refuse(message: str, param: str) -> NoReturn:
    raise invalid_request(message, param, "unsupported_parameter")


def _image(part: dict[str, Any], where: str) -> ContentPart:
    url = part.get("image_url")
    if not url:
        _refuse(
            f"'{where}.file_id': uploaded files are not served by this gateway; give the image "
            "as 'image_url' (a URL or a data: URL).",
            f"{where}.file_id",
        )
    image: dict[str, Any] = {"url": url}
    if part.get("detail") and part["detail"] != "auto":
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}  # type: ignore[typeddict-item]


def _file(part: dict[str, Any], where: str) -> ContentPart:
    if not part.get("file_data"):
        _refuse(
            f"'{where}': only files given inline ('file_data') are served by this gateway.",
            f"{where}.file_data",
        )
    file = {"file_data": part["file_data"]}
    if part.get("filename"):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def _parts(content: Any, where: str) -> str | list[ContentPart]:
    """A message's content: a string as it is, a list of parts as canonical parts."""
    if isinstance(content, str):
        return content
    parts: list[ContentPart] = []
    for index, part in enumerate(content):
        at, kind = f"{where}[{index}]", part.get("type")
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image":
            parts.append(_image(part, at))
        elif kind == "input_file":
            parts.append(_file(part, at))
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": part.get("refusal", "")})
        else:
            _refuse(f"'{at}.type': content of type {kind!r} is not served here.", f"{at}.type")
    if all(part["type"] == "text" for part in parts):
        return "".join(part.get("text", "") for part in parts)
    return parts


class _Conversation:
    """The canonical messages of a list of items, built in order: consecutive assistant
    output (text, function calls, reasoning) is one assistant turn, as chat APIs take it."""

    def __init__(self, dropped: dict[str, None]) -> None:
        self.messages: list[ChatMessage] = []
        self._dropped = dropped
        self._assistant: ChatMessage | None = None  # the assistant turn still open

    def _turn(self) -> ChatMessage:
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": None}
            self.messages.append(self._assistant)
        return self._assistant

    def close(self) -> None:
        """Ends the assistant turn being built."""
        self._assistant = None

    def add(self, item: dict[str, Any], where: str) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item, where)
        elif kind == "function_call":
            call: ToolCall = {
                "id": str(item.get("call_id", "")),
                "type": "function",
                "function": {
                    "name": joined(item.get("namespace"), item.get("name", "")),
                    "arguments": item.get("arguments", ""),
                },
            }
            self._turn().setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            self.close()
            output = item.get("output", "")
            if not isinstance(output, str):
                output = _parts(output, f"{where}.output")
            self.messages.append(
                {"role": "tool", "tool_call_id": str(item.get("call_id", "")), "content": output}
            )
        elif kind == "reasoning":
            self._reasoning(item, where)
        elif kind == "compaction":
            summary = compaction.summary_of(item.get("encrypted_content"))
            if summary is None:
                # Another platform's compaction: only that platform can read it.
                self._dropped["input.compaction"] = None
                return
            self.close()
            introduced = compaction.SUMMARY_INTRODUCTION + summary
            self.messages.append({"role": "user", "content": introduced})
        else:
            _refuse(
                f"'{where}.type': items of type {kind!r} are not served by this gateway (only "
                "messages, function calls, their outputs, reasoning and compactions are).",
                f"{where}.type",
            )

    def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        content = _parts(item.get("content", ""), f"{where}.content")
        if role == "assistant":
            turn = self._turn()
            if turn.get("tool_calls") or turn.get("content") is not None:
                self.close()  # text after calls, or a second message: a turn of its own
                turn = self._turn()
            if isinstance(content, list):  # refusals
                refusals = [p.get("refusal", "") for p in content if p["type"] == "refusal"]
                turn["refusal"] = "".join(refusals)
                content = "".join(p.get("text", "") for p in content if p["type"] == "text")
            turn["content"] = content or None
            return
        self.close()
        self.messages.append({"role": role, "content": content})  # type: ignore[typeddict-item]

    def _reasoning(self, item: dict[str, Any], where: str) -> None:
        if self._assistant is not None and (
            self._assistant.get("tool_calls") or self._assistant.get("content") is not None
        ):
            self.close()  # reasoning opens the turn it belongs to
        turn = self._turn()
        texts = [p.get("text", "") for p in item.get("content") or () if isinstance(p, dict)]
        if texts:
            turn["reasoning_content"] = turn.get("reasoning_content", "") + "".join(texts)
        encrypted = item.get("encrypted_content")
        if isinstance(encrypted, str) and reasoning.is_minted(encrypted):
            signature = reasoning.carried(encrypted)
            if signature:
                turn["reasoning_signature"] = signature
        elif encrypted:
            # Another platform's encrypted reasoning: only that platform can read it.
            self._dropped["input.encrypted_content"] = None


NAMESPACE_SEPARATOR = "__"


def joined(namespace: str | None, name: str) -> str:
    """The canonical name of a function of a `namespace` tool: chat APIs have no namespaces,
    and their function names allow no dots (`^[a-zA-Z0-9_-]{1,64}$`)."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def namespaced(tools: Sequence[Any]) -> dict[str, tuple[str, str]]:
    """The canonical names of the request's namespaced functions: their namespace and name."""
    return {
        joined(tool["name"], inner["name"]): (tool["name"], inner["name"])
        for tool in tools
        if tool.get("type") == "namespace"
        for inner in tool.get("tools") or ()
    }


def _function(tool: dict[str, Any], name: str) -> Tool:
    function: FunctionDefinition = {
        "name": name,
        "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tools(tools: Sequence[Any]) -> list[Tool]:
    functions: list[Tool] = []
    for index, tool in enumerate(tools):
        where, kind = f"tools[{index}]", tool.get("type")
        if kind == "function":
            functions.append(_function(tool, tool["name"]))
            continue
        if kind == "namespace":
            for inner_index, inner in enumerate(tool.get("tools") or ()):
                if inner.get("type") != "function":
                    at = f"{where}.tools[{inner_index}].type"
                    _refuse(f"'{at}': only function tools are served in a namespace.", at)
                functions.append(_function(inner, joined(tool["name"], inner["name"])))
            continue
        _refuse(
            f"'{where}.type': the tool {kind!r} is not served for this model; only "
            "function tools are (the model's provider runs no built-in tools here).",
            f"{where}.type",
        )
    return functions


def _tool_choice(choice: Any, body: ChatRequest, dropped: dict[str, None]) -> None:
    if isinstance(choice, str):
        body["tool_choice"] = _CHOICES[choice]
        return
    kind = choice.get("type")
    if kind == "function":
        name = joined(choice.get("namespace"), choice["name"])
        body["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind == "allowed_tools":
        body["tool_choice"] = _CHOICES[choice.get("mode", "auto")]
        dropped["tool_choice.tools"] = None
    else:
        _refuse(
            f"'tool_choice.type': the tool {kind!r} is not served for this model.",
            "tool_choice.type",
        )


def _response_format(text: Any) -> ResponseFormat | None:
    output = (text or {}).get("format") or {}
    kind = output.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema: dict[str, Any] = {"name": output["name"], "schema": output.get("schema") or {}}
        if output.get("description"):
            schema["description"] = output["description"]
        if output.get("strict") is not None:
            schema["strict"] = output["strict"]
        return {"type": "json_schema", "json_schema": schema}  # type: ignore[return-value]
    return None


def translation(
    wire: dict[str, Any],
    inputs: Sequence[dict[str, Any]],
    earlier: Sequence[dict[str, Any]] = (),
) -> Translation:
    """The canonical chat request for a validated Responses API body whose `input` is the
    items `inputs` (see `items.input_items`), continuing the items of `earlier` stored
    responses (their inputs and outputs, in order)."""
    for name, why in _REFUSED.items():
        if wire.get(name) not in (None, False):
            _refuse(f"'{name}': {why}", name)
    dropped: dict[str, None] = {}  # the caller's fields left out, in order
    conversation = _Conversation(dropped)
    for item in earlier:
        conversation.add(item, "previous_response_id")
    conversation.close()
    messages = conversation.messages
    if wire.get("instructions"):
        # Instructions are the call's own: those of earlier responses are not carried over.
        messages.insert(0, {"role": "system", "content": wire["instructions"]})
    where = "input" if isinstance(wire.get("input"), str) else "input[{}]"
    for index, item in enumerate(inputs):
        conversation.add(item, where.format(index))
    if not messages:
        raise invalid_request("'input': give at least one input item.", "input")
    body: ChatRequest = {"model": wire["model"], "messages": messages}
    for name in _SAME + _SAME_HINTS:
        if wire.get(name) is not None:
            body[name] = wire[name]  # type: ignore[literal-required]
    if wire.get("max_output_tokens") is not None:
        body["max_completion_tokens"] = wire["max_output_tokens"]
    if wire.get("tools"):
        body["tools"] = _tools(wire["tools"])
    if wire.get("tool_choice") is not None:
        _tool_choice(wire["tool_choice"], body, dropped)
    if response_format := _response_format(wire.get("text")):
        body["response_format"] = response_format
    verbosity = (wire.get("text") or {}).get("verbosity")
    if verbosity is not None:
        body["verbosity"] = verbosity  # type: ignore[typeddict-unknown-key]
    settings = wire.get("reasoning") or {}
    if settings.get("effort") is not None:
        body["reasoning_effort"] = settings["effort"]
    for name in ("summary", "generate_summary"):
        if settings.get(name) is not None:
            # Chat APIs give the reasoning itself (as reasoning_text), never a summary of it.
            dropped[f"reasoning.{name}"] = None
    include = wire.get("include") or ()
    if "message.output_text.logprobs" in include or wire.get("top_logprobs"):
        body["logprobs"] = True
        if wire.get("top_logprobs"):
            body["top_logprobs"] = wire["top_logprobs"]
    for name in include:
        if name not in _INCLUDED:
            dropped[f"include.{name}"] = None
    if wire.get("truncation") == "auto":
        dropped["truncation"] = None
    if (wire.get("stream_options") or {}).get("include_obfuscation"):
        # The gateway's deltas carry no padding against length side channels.
        dropped["stream_options.include_obfuscation"] = None
    if wire.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for name in wire:
        if name not in _OWN and name not in _SAME and name not in _SAME_HINTS:
            dropped[name] = None
    return Translation(body, tuple(dropped))


def sizing(
    wire: Mapping[str, Any], inputs: Sequence[Any], earlier: Sequence[Any]
) -> dict[str, Any]:
    """What admission estimates tokens from, in OpenAI's names: the conversation's items,
    the instructions and tools, and `max_output_tokens`."""
    return {
        "messages": [wire.get("instructions"), earlier, inputs, wire.get("tools")],
        "max_tokens": wire.get("max_output_tokens"),
    }

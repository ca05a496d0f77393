"""A Gemini API `generateContent` request as the canonical (OpenAI) chat request, for
upstreams of another family (a Gemini upstream is sent the request's very bytes).

`contents` turns become user and assistant messages; `functionCall` parts become tool calls
(with Gemini's id, or `call_<n>`), `functionResponse` parts tool messages that answer the
latest call of that name. `systemInstruction`, tools, `toolConfig` and `generationConfig` map
to their OpenAI counterparts; Gemini's OpenAPI-style schemas (`parameters`, `responseSchema`,
with upper-case types) are read as JSON Schema; `thinkingConfig.thinkingLevel` (or a zero
budget) is `reasoning_effort`. What has no counterpart (`safetySettings`, `cachedContent`,
thinking budgets and `includeThoughts`, thought parts and their signatures, ...) is left out
and named in the translation's `dropped`, never passed on into another API's body. Members are
read in Gemini's JSON names (`systemInstruction`) or their proto names (`system_instruction`).
"""

from __future__ import annotations

from typing import Any, Literal, cast

import orjson

from llm_gateway.api.gemini.validation import member as _get
from llm_gateway.errors import invalid_request
from llm_gateway.model.canonical import (
    ChatMessage,
    ChatRequest,
    ContentPart,
    FunctionDefinition,
    Tool,
    ToolCall,
    ToolChoice,
)
from llm_gateway.model.request import Translation
from llm_gateway.model.tool_calls import GEMINI_FOREIGN_THOUGHT_SIGNATURE, tool_call
from llm_gateway.model.tool_calls import GEMINI_TEXT_RESULT_KEY as RESULT_KEY

_TRANSLATED = frozenset(
    ("contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model")
)
_GENERATION_FIELDS = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "maxOutputTokens": "max_completion_tokens",
    "stopSequences": "stop",
    "candidateCount": "n",
    "seed": "seed",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
}
# Gemini's `thinkingLevel` words that are OpenAI's `reasoning_effort` words too.
_REASONING_EFFORTS = frozenset(("minimal", "low", "medium", "high", "xhigh"))
_TOOL_MODES: dict[str, Literal["required", "none"]] = {
    "ANY": "required",
    "VALIDATED": "required",
    "NONE": "none",
}
_SCHEMA_FIELDS = frozenset(("responseMimeType", "responseSchema", "responseJsonSchema"))
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style schema as JSON Schema: `"STRING"` types become `"string"`."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            converted[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            converted[key] = {name: json_schema(prop) for name, prop in value.items()}
        else:
            converted[key] = json_schema(value)
    return converted


def _inline_part(data: dict[str, Any], param: str) -> ContentPart:
    mime, payload = str(_get(data, "mimeType") or ""), _get(data, "data") or ""
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{payload}"}}
    if mime in _AUDIO_FORMATS:
        return {
            "type": "input_audio",
            "input_audio": {"data": payload, "format": _AUDIO_FORMATS[mime]},
        }
    raise invalid_request(f"{param}: inline data of type {mime!r} is not supported", param)


def _file_part(data: dict[str, Any], param: str) -> ContentPart:
    mime = str(_get(data, "mimeType") or "image/")
    if not mime.startswith("image/"):
        raise invalid_request(f"{param}: files of type {mime!r} are not supported", param)
    return {"type": "image_url", "image_url": {"url": str(_get(data, "fileUri") or "")}}


def _tool_result(response: Any) -> str:
    if (
        isinstance(response, dict)
        and set(response) == {RESULT_KEY}
        and isinstance(response[RESULT_KEY], str)
    ):
        return str(response[RESULT_KEY])
    return orjson.dumps(response if response is not None else {}).decode()


class _Conversation:
    """Builds the canonical messages turn by turn, remembering the ids of tool calls."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.dropped: dict[str, None] = {}  # the caller's fields left out, in order
        self._calls = 0
        self._latest_call: dict[str, str] = {}  # function name → id of its latest call

    def user(self, parts: list[Any], param: str) -> None:
        results: list[ChatMessage] = []
        content: list[ContentPart] = []
        for index, part in enumerate(parts):
            where = f"{param}[{index}]"
            self._signature(part)
            if _get(part, "functionResponse") is not None:
                results.append(self._result(_get(part, "functionResponse")))
            elif _get(part, "text") is not None:
                content.append({"type": "text", "text": str(_get(part, "text"))})
            elif _get(part, "inlineData") is not None:
                content.append(_inline_part(_get(part, "inlineData"), where))
            elif _get(part, "fileData") is not None:
                content.append(_file_part(_get(part, "fileData"), where))
            else:
                raise invalid_request(f"{where}: this kind of part is not supported", where)
        self.messages += results
        if content:
            plain = all(p["type"] == "text" for p in content)
            text = "".join(p.get("text", "") for p in content)
            self.messages.append({"role": "user", "content": text if plain else content})

    def model(self, parts: list[Any], param: str) -> None:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for index, part in enumerate(parts):
            self._signature(part)
            if _get(part, "functionCall") is not None:
                calls.append(self._call(_get(part, "functionCall")))
            elif _get(part, "thought"):
                self.dropped["contents.parts.thought"] = None  # Gemini's own reasoning
            elif _get(part, "text") is not None:
                texts.append(str(_get(part, "text")))
            else:
                where = f"{param}[{index}]"
                raise invalid_request(f"{where}: this kind of part is not supported", where)
        message: ChatMessage = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        self.messages.append(message)

    def _signature(self, part: Any) -> None:
        if _get(part, "thoughtSignature") not in (None, GEMINI_FOREIGN_THOUGHT_SIGNATURE):
            self.dropped["contents.parts.thoughtSignature"] = None

    def _call(self, call: dict[str, Any]) -> ToolCall:
        name = str(_get(call, "name") or "")
        call_id = str(_get(call, "id") or f"call_{self._calls}")
        self._calls += 1
        self._latest_call[name] = call_id
        return tool_call(call_id, name, _get(call, "args"))

    def _result(self, result: dict[str, Any]) -> ChatMessage:
        name = str(_get(result, "name") or "")
        call_id = str(_get(result, "id") or self._latest_call.get(name, name))
        return {
            "role": "tool",
            "tool_call_id": call_id,
            "content": _tool_result(_get(result, "response")),
        }


def _system(instruction: Any) -> str:
    if isinstance(instruction, str):
        return instruction
    return "".join(str(_get(p, "text") or "") for p in _get(instruction, "parts") or ())


def _tools(tools: Any) -> list[Tool]:
    functions: list[Tool] = []
    for index, tool in enumerate(tools or ()):
        declarations = _get(tool, "functionDeclarations")
        if not isinstance(declarations, list):
            where = f"tools[{index}]"
            raise invalid_request(f"{where}: only function declarations are supported", where)
        for declaration in declarations:
            function: FunctionDefinition = {"name": str(_get(declaration, "name") or "")}
            if _get(declaration, "description"):
                function["description"] = _get(declaration, "description")
            schema = _get(declaration, "parametersJsonSchema") or json_schema(
                _get(declaration, "parameters")
            )
            if schema:
                function["parameters"] = schema
            functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(config: Any) -> ToolChoice:
    calling = _get(config, "functionCallingConfig") or {}
    mode = str(_get(calling, "mode") or "AUTO").upper()
    allowed = _get(calling, "allowedFunctionNames") or []
    if mode in ("ANY", "VALIDATED") and len(allowed) == 1:
        return {"type": "function", "function": {"name": str(allowed[0])}}
    return _TOOL_MODES.get(mode, "auto")


def _thinking(config: dict[str, Any], body: ChatRequest, dropped: dict[str, None]) -> None:
    """`thinkingLevel` (or a zero `thinkingBudget`) is the canonical `reasoning_effort`;
    a token budget and `includeThoughts` have no counterpart."""
    for key, value in config.items():
        name = _camel(key)
        level = str(value).lower() if name == "thinkingLevel" else None
        if level in _REASONING_EFFORTS:
            body["reasoning_effort"] = level
        elif name == "thinkingBudget" and value == 0:
            body["reasoning_effort"] = "none"
        else:
            dropped[f"generationConfig.thinkingConfig.{name}"] = None


def _generation(config: Any, body: ChatRequest, dropped: dict[str, None]) -> None:
    if not config:
        return
    # Each canonical name the table gives takes the value's type, which validation checked.
    fields = cast(dict[str, Any], body)
    for key, value in config.items():
        name = _camel(key)
        if name in _GENERATION_FIELDS:
            fields[_GENERATION_FIELDS[name]] = value
        elif name == "thinkingConfig":
            _thinking(value, body, dropped)
        elif name not in _SCHEMA_FIELDS:
            dropped[f"generationConfig.{name}"] = None
    schema = _get(config, "responseJsonSchema") or json_schema(_get(config, "responseSchema"))
    if schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    elif _get(config, "responseMimeType") == "application/json":
        body["response_format"] = {"type": "json_object"}


def translation(model: str, wire: dict[str, Any], stream: bool) -> Translation:
    """The canonical chat request for a `generateContent` body that passed validation."""
    conversation = _Conversation()
    instruction = _get(wire, "systemInstruction")
    if instruction:
        conversation.messages.append({"role": "system", "content": _system(instruction)})
    for index, content in enumerate(_get(wire, "contents")):
        param, parts = f"contents[{index}].parts", _get(content, "parts") or []
        if _get(content, "role") == "model":
            conversation.model(parts, param)
        else:
            conversation.user(parts, param)
    body: ChatRequest = {"model": model, "messages": conversation.messages}
    if tools := _tools(_get(wire, "tools")):
        body["tools"] = tools
        if _get(wire, "toolConfig"):
            body["tool_choice"] = _tool_choice(_get(wire, "toolConfig"))
    dropped = conversation.dropped
    _generation(_get(wire, "generationConfig"), body, dropped)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for name in wire:
        if _camel(name) not in _TRANSLATED:
            dropped[_camel(name)] = None
    return Translation(body, tuple(dropped))


def sizing(wire: dict[str, Any]) -> dict[str, Any]:
    """What admission estimates tokens from, in OpenAI's names."""
    config = _get(wire, "generationConfig")
    return {
        "messages": [_get(wire, "systemInstruction"), _get(wire, "contents")],
        "max_tokens": _get(config, "maxOutputTokens"),
        "n": _get(config, "candidateCount"),
    }

"""The canonical (OpenAI) chat request as a Gemini API `generateContent` request.

Roles become `user` and `model` (tool results are `functionResponse` parts of a user turn,
named after the call they answer), system and developer messages `systemInstruction`, and
sampling options `generationConfig` (`reasoning_effort` as its `thinkingConfig`). Schemas go
out as JSON Schema (`parametersJsonSchema`,
`responseJsonSchema`), which takes OpenAI's schemas as they are, where Gemini's older OpenAPI
subset (`parameters`, `responseSchema`) refuses keywords such as `additionalProperties`.
Request fields OpenAI does not model go into the Gemini body as they are (`safetySettings`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from llm_gateway.model import reasoning
from llm_gateway.model.canonical import ChatMessage, ChatRequest, Content, ContentPart
from llm_gateway.model.tool_calls import GEMINI_FOREIGN_THOUGHT_SIGNATURE, arguments_object
from llm_gateway.model.tool_calls import GEMINI_TEXT_RESULT_KEY as RESULT_KEY
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

PROVIDER = "gemini"

# The modelled fields this module translates (any other is refused or a platform hint).
TRANSLATED = frozenset(
    (
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "stop",
        "tools",
        "tool_choice",
        "response_format",
        "reasoning_effort",
        "stream",
        "stream_options",
    )
)
# OpenAI's `reasoning_effort` words → Gemini's `thinkingLevel` (`none` is a zero budget).
THINKING_LEVELS = {
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "XHIGH",
    "max": "XHIGH",
}
HONOURABLE = {
    **NOT_ON_CHAT_ONLY_PROVIDERS,
    "reasoning_effort": lambda v: v is None or v == "none" or v in THINKING_LEVELS,
    "parallel_tool_calls": lambda v: v in (None, True),
    "seed": lambda v: v is None or -(2**31) <= v < 2**31,  # Gemini's seed is an int32
}
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}
_GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def _part(part: ContentPart, param: str) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        return {"text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image["url"] if image is not None else ""
        inline = split_data_url(url)
        if inline is not None:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        mime = _AUDIO_TYPES.get(audio.get("format", ""), "audio/wav")
        return {"inlineData": {"mimeType": mime, "data": audio.get("data", "")}}
    raise unsupported(param, PROVIDER, f"Parts of type '{kind}' are not.")


def _user_parts(content: Content, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(part, f"{param}[{i}]") for i, part in enumerate(content or ())]


def _model_parts(message: ChatMessage, param: str) -> list[dict[str, Any]]:
    """A model turn's parts, with the signature Gemini gave the turn (carried back through
    the canonical model) on its first function call, or its last part."""
    signature = reasoning.signature_for(ApiFamily.GEMINI, message.get("reasoning_signature"))
    parts: list[dict[str, Any]] = []
    text = content_text(message.get("content"), f"{param}.content", PROVIDER)
    if text:
        parts.append({"text": text})
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function")
        if call["type"] != "function" or function is None:
            raise unsupported(f"{param}.tool_calls[{index}]", PROVIDER)
        wire: dict[str, Any] = {
            "name": function["name"],
            "args": arguments_object(
                function["arguments"], f"{param}.tool_calls[{index}].function.arguments"
            ),
        }
        if call["id"]:
            wire["id"] = call["id"]
        part: dict[str, Any] = {"functionCall": wire}
        if index == 0:
            # Thinking models require one on a turn's first call; a call Gemini did not make
            # has none of its own.
            part["thoughtSignature"] = signature or GEMINI_FOREIGN_THOUGHT_SIGNATURE
        parts.append(part)
    if signature and parts and not message.get("tool_calls"):
        parts[-1]["thoughtSignature"] = signature
    return parts


def _function_response(message: ChatMessage, names: dict[str, str], param: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id") or ""
    text = content_text(message.get("content"), f"{param}.content", PROVIDER)
    try:
        result = orjson.loads(text)
    except orjson.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        result = {RESULT_KEY: text}
    wire: dict[str, Any] = {"name": names.get(call_id, call_id), "response": result}
    if call_id:
        wire["id"] = call_id
    return {"functionResponse": wire}


def _contents(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns (system parts, contents)."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id → function name, for the results that follow
    for index, message in enumerate(messages):
        role, param = message["role"], f"messages[{index}]"
        if role in ("system", "developer"):
            system.append({"text": content_text(message.get("content"), param, PROVIDER)})
            continue
        if role == "user":
            wire_role, parts = "user", _user_parts(message.get("content"), f"{param}.content")
        elif role == "assistant":
            wire_role, parts = "model", _model_parts(message, param)
            for call in message.get("tool_calls") or ():
                names[call["id"]] = call["function"]["name"]  # all functions (_model_parts)
        elif role == "tool":
            wire_role, parts = "user", [_function_response(message, names, param)]
        else:
            raise unsupported(f"{param}.role", PROVIDER, f"The role '{role}' is not.")
        if contents and contents[-1]["role"] == wire_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": wire_role, "parts": parts})
    return system, contents


def _tools(body: ChatRequest) -> list[dict[str, Any]]:
    declarations = []
    for function in function_tools(body, PROVIDER):
        declaration: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(body: ChatRequest) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        config: dict[str, Any] = {
            "mode": "ANY",
            "allowedFunctionNames": [forced_function(choice, PROVIDER)],
        }
    elif choice in _TOOL_MODES:
        config = {"mode": _TOOL_MODES[choice]}
    else:
        return None
    return {"functionCallingConfig": config}


def _generation_config(body: ChatRequest) -> dict[str, Any]:
    fields: Mapping[str, Any] = body
    config: dict[str, Any] = {
        wire: fields[name]
        for name, wire in _GENERATION_FIELDS.items()
        if fields.get(name) is not None
    }
    if (limit := max_tokens(body)) is not None:
        config["maxOutputTokens"] = limit
    if stops := stop_sequences(body):
        config["stopSequences"] = stops
    if body.get("n") not in (None, 1):
        config["candidateCount"] = body["n"]
    effort = body.get("reasoning_effort")
    if effort == "none":
        config["thinkingConfig"] = {"thinkingBudget": 0}
    elif effort is not None:
        config["thinkingConfig"] = {"thinkingLevel": THINKING_LEVELS[effort]}
    response_format = body.get("response_format")
    schema = json_schema_of(response_format)
    if schema is not None:
        config["responseMimeType"] = "application/json"
        if response_format is not None and response_format["type"] == "json_schema":
            config["responseJsonSchema"] = schema[1]
    return config


def generate_content_request(body: ChatRequest) -> dict[str, Any]:
    """Returns the `generateContent` body for a canonical chat request body (the model goes in
    the URL)."""
    refuse_unhonourable(body, HONOURABLE, PROVIDER)
    system, contents = _contents(body["messages"])
    wire: dict[str, Any] = {"contents": contents}
    if system:
        wire["systemInstruction"] = {"parts": system}
    if tools := _tools(body):
        wire["tools"] = tools
    if (tool_config := _tool_config(body)) is not None:
        wire["toolConfig"] = tool_config
    if config := _generation_config(body):
        wire["generationConfig"] = config
    wire.update(extensions(body))
    return wire

"""Typed request messages to canonical request bodies (OpenAI's JSON as plain data).

Explicit code rather than json_format: it is several times faster, and it applies the JSON
mappings of the union-typed fields documented in the protos.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from llm_gateway.api.grpc.struct_values import from_struct
from llm_gateway.errors import invalid_request
from llm_gateway.model.multipart import FormPart
from llm_gateway.model.validation import CHAT_FIELDS, COMPLETION_FIELDS
from llm_gateway.v1 import (
    audio_pb2,
    chat_pb2,
    common_pb2,
    completions_pb2,
    embeddings_pb2,
    images_pb2,
    moderations_pb2,
)

_COMMON_SCALARS = (
    "temperature",
    "top_p",
    "n",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
)
_CHAT_SCALARS = (
    *_COMMON_SCALARS,
    "max_completion_tokens",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "store",
    "service_tier",
    "reasoning_effort",
    "verbosity",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
)
_CHAT_STRUCTS = ("web_search_options", "prompt_cache_options", "moderation")
_COMPLETION_SCALARS = (*_COMMON_SCALARS, "suffix", "best_of", "logprobs", "echo")


def _copy_present(message: Message, names: tuple[str, ...], out: dict[str, Any]) -> None:
    for name in names:
        if message.HasField(name):
            out[name] = getattr(message, name)


def _stop(stop: common_pb2.StopSequences) -> str | list[str]:
    if stop.single and len(stop.sequences) == 1:
        return stop.sequences[0]
    return list(stop.sequences)


def _stream_options(options: common_pb2.StreamOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy_present(options, ("include_usage", "include_obfuscation"), out)
    return out


def _part(part: chat_pb2.ContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    out: dict[str, Any]
    if kind == "text":
        out = {"type": "text", "text": part.text}
    elif kind == "image_url":
        image: dict[str, Any] = {"url": part.image_url.url}
        _copy_present(part.image_url, ("detail",), image)
        out = {"type": "image_url", "image_url": image}
    elif kind == "input_audio":
        out = {
            "type": "input_audio",
            "input_audio": {"data": part.input_audio.data, "format": part.input_audio.format},
        }
    elif kind == "file":
        file: dict[str, Any] = {}
        _copy_present(part.file, ("filename", "file_data", "file_id"), file)
        out = {"type": "file", "file": file}
    elif kind == "refusal":
        out = {"type": "refusal", "refusal": part.refusal}
    else:
        raise invalid_request("A content part has none of its members set.", "content")
    if part.HasField("prompt_cache_breakpoint"):
        out["prompt_cache_breakpoint"] = from_struct(part.prompt_cache_breakpoint)
    return out


def _parts(parts: chat_pb2.ContentParts) -> list[dict[str, Any]]:
    return [_part(p) for p in parts.parts]


def _function_call(call: chat_pb2.FunctionCall) -> dict[str, Any]:
    return {"name": call.name, "arguments": call.arguments}


def _tool_call(call: chat_pb2.ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "type": call.type}
    kind = call.WhichOneof("call")
    if kind == "function":
        out["function"] = _function_call(call.function)
    elif kind == "custom":
        out["custom"] = {"name": call.custom.name, "input": call.custom.input}
    return out


def _message(message: chat_pb2.ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    kind = message.WhichOneof("content")
    if kind == "text":
        out["content"] = message.text
    elif kind == "parts":
        out["content"] = _parts(message.parts)
    _copy_present(message, ("name", "tool_call_id", "refusal"), out)
    if message.tool_calls:
        out["tool_calls"] = [_tool_call(c) for c in message.tool_calls]
    if message.HasField("audio"):
        out["audio"] = {"id": message.audio.id}
    if message.HasField("function_call"):
        out["function_call"] = _function_call(message.function_call)
    return out


def _function_definition(function: chat_pb2.FunctionDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {"name": function.name}
    _copy_present(function, ("description", "strict"), out)
    if function.HasField("parameters"):
        out["parameters"] = from_struct(function.parameters)
    return out


def _tool(tool: chat_pb2.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": tool.type}
    kind = tool.WhichOneof("definition")
    if kind == "function":
        out["function"] = _function_definition(tool.function)
    elif kind == "custom":
        custom: dict[str, Any] = {"name": tool.custom.name}
        _copy_present(tool.custom, ("description",), custom)
        if tool.custom.HasField("format"):
            custom["format"] = from_struct(tool.custom.format)
        out["custom"] = custom
    return out


def _tool_choice(choice: chat_pb2.ToolChoice) -> Any:
    kind = choice.WhichOneof("choice")
    if kind == "mode":
        return choice.mode
    if kind == "function_name":
        return {"type": "function", "function": {"name": choice.function_name}}
    if kind == "custom_name":
        return {"type": "custom", "custom": {"name": choice.custom_name}}
    if kind == "allowed_tools":
        return {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": choice.allowed_tools.mode,
                "tools": [from_struct(t) for t in choice.allowed_tools.tools],
            },
        }
    raise invalid_request("'tool_choice' has none of its members set.", "tool_choice")


def _response_format(response_format: chat_pb2.ResponseFormat) -> dict[str, Any]:
    out: dict[str, Any] = {"type": response_format.type}
    if response_format.HasField("json_schema"):
        schema = response_format.json_schema
        json_schema: dict[str, Any] = {"name": schema.name}
        _copy_present(schema, ("description", "strict"), json_schema)
        if schema.HasField("schema"):
            json_schema["schema"] = from_struct(schema.schema)
        out["json_schema"] = json_schema
    return out


def _audio(audio: chat_pb2.AudioOutput) -> dict[str, Any]:
    voice: Any = audio.name if audio.WhichOneof("voice") == "name" else {"id": audio.custom_id}
    return {"voice": voice, "format": audio.format}


def _prediction(prediction: chat_pb2.Prediction) -> dict[str, Any]:
    kind = prediction.WhichOneof("content")
    content: Any = prediction.text if kind == "text" else _parts(prediction.parts)
    return {"type": prediction.type, "content": content}


def _function_call_choice(choice: chat_pb2.FunctionCallChoice) -> Any:
    if choice.WhichOneof("choice") == "name":
        return {"name": choice.name}
    return choice.mode


def _merge_extra(message: Message, known: frozenset[str], out: dict[str, Any]) -> None:
    if not message.HasField("extra_body"):
        return
    for key, value in from_struct(message.extra_body).items():  # type: ignore[attr-defined]
        if key in known:
            raise invalid_request(
                f"'{key}' is a modelled field: set it directly, not in 'extra_body'.",
                f"extra_body.{key}",
            )
        out[key] = value


def chat_body(request: chat_pb2.ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
    """Returns a `ChatCompletionRequest` as a `/v1/chat/completions` body."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
    }
    _copy_present(request, _CHAT_SCALARS, body)
    for name in _CHAT_STRUCTS:
        if request.HasField(name):
            body[name] = from_struct(getattr(request, name))
    if request.HasField("stop"):
        body["stop"] = _stop(request.stop)
    if request.logit_bias:
        body["logit_bias"] = dict(request.logit_bias)
    if request.metadata:
        body["metadata"] = dict(request.metadata)
    if request.modalities:
        body["modalities"] = list(request.modalities)
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
    if request.HasField("tool_choice"):
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.HasField("response_format"):
        body["response_format"] = _response_format(request.response_format)
    if request.HasField("prediction"):
        body["prediction"] = _prediction(request.prediction)
    if request.HasField("audio"):
        body["audio"] = _audio(request.audio)
    if request.HasField("function_call"):
        body["function_call"] = _function_call_choice(request.function_call)
    if request.functions:
        body["functions"] = [_function_definition(f) for f in request.functions]
    _set_stream(request, stream, body)
    _merge_extra(request, CHAT_FIELDS, body)
    return body


def completion_body(request: completions_pb2.CompletionRequest, *, stream: bool) -> dict[str, Any]:
    """Returns a `CompletionRequest` as a `/v1/completions` body."""
    body: dict[str, Any] = {"model": request.model}
    kind = request.WhichOneof("prompt")
    if kind == "text":
        body["prompt"] = request.text
    elif kind == "texts":
        body["prompt"] = list(request.texts.texts)
    elif kind == "tokens":
        body["prompt"] = list(request.tokens.tokens)
    elif kind == "token_lists":
        body["prompt"] = [list(t.tokens) for t in request.token_lists.lists]
    if request.messages:
        body["messages"] = [_message(m) for m in request.messages]
    _copy_present(request, _COMPLETION_SCALARS, body)
    if request.HasField("stop"):
        body["stop"] = _stop(request.stop)
    if request.logit_bias:
        body["logit_bias"] = dict(request.logit_bias)
    _set_stream(request, stream, body)
    _merge_extra(request, COMPLETION_FIELDS | {"messages"}, body)
    return body


def _set_stream(request: Any, stream: bool, body: dict[str, Any]) -> None:
    # The RPC decides whether the answer streams; the `stream` field cannot contradict it.
    body["stream"] = stream
    if stream and request.HasField("stream_options"):
        body["stream_options"] = _stream_options(request.stream_options)


def embedding_body(request: embeddings_pb2.EmbeddingRequest) -> dict[str, Any]:
    """An `EmbeddingRequest` as the OpenAI embeddings request it means. The vectors are asked
    for in base64: a quarter of the bytes of JSON numbers from the upstream, read straight
    into the packed floats of the answer."""
    if request.texts and request.tokens:
        raise invalid_request("Give either 'texts' or 'tokens', not both.", "tokens")
    given: list[Any] = (
        list(request.texts) if request.texts else [list(t.ids) for t in request.tokens]
    )
    body: dict[str, Any] = {"model": request.model, "input": given, "encoding_format": "base64"}
    if request.HasField("dimensions"):
        body["dimensions"] = request.dimensions
    if request.user:
        body["user"] = request.user
    return body


def moderation_body(request: moderations_pb2.ModerationRequest) -> dict[str, Any]:
    """A `ModerationRequest` as the OpenAI moderations request it means."""
    if request.texts and request.parts:
        raise invalid_request("Give either 'texts' or 'parts', not both.", "parts")
    given: list[Any] = list(request.texts)
    for part in request.parts:
        if part.WhichOneof("part") == "image_url":
            given.append({"type": "image_url", "image_url": {"url": part.image_url}})
        else:
            given.append({"type": "text", "text": part.text})
    body: dict[str, Any] = {"input": given}
    if request.HasField("model"):
        body["model"] = request.model
    return body


# The optional members of an `ImageRequest`, copied when set.
_IMAGE_OPTIONS = (
    "model",
    "n",
    "size",
    "quality",
    "style",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "response_format",
)


def image_body(request: images_pb2.ImageRequest) -> dict[str, Any]:
    """An `ImageRequest` as the OpenAI image generation request it means."""
    body: dict[str, Any] = {"prompt": request.prompt}
    _copy_present(request, _IMAGE_OPTIONS, body)
    if request.user:
        body["user"] = request.user
    return body


def speech_body(request: audio_pb2.SpeechRequest) -> dict[str, Any]:
    """A `SpeechRequest` as the OpenAI speech request it means."""
    body: dict[str, Any] = {"model": request.model, "input": request.input, "voice": request.voice}
    _copy_present(request, ("instructions", "response_format", "speed"), body)
    return body


# The transcript formats the typed API answers (the text formats are the REST API's).
_TYPED_TRANSCRIPTS = ("json", "verbose_json")


def transcript_parts(request: audio_pb2.TranscriptionRequest) -> list[FormPart]:
    """A `TranscriptionRequest` as the form a REST caller would send for it: the upstream's
    API takes only a form, and the gateway checks the file as it checks a REST caller's."""
    if request.HasField("response_format") and request.response_format not in _TYPED_TRANSCRIPTS:
        raise invalid_request(
            f"'response_format' must be one of {', '.join(_TYPED_TRANSCRIPTS)} on the typed "
            "API (text, srt and vtt are the REST API's).",
            "response_format",
        )
    parts = [
        FormPart("file", request.file, request.filename or "audio", None),
        FormPart("model", request.model.encode()),
    ]
    parts += _text_parts(request, ("language", "prompt", "response_format", "temperature"))
    for name in ("timestamp_granularities", "include"):
        parts.extend(FormPart(f"{name}[]", each.encode()) for each in getattr(request, name))
    return parts


def _text_parts(message: Message, names: tuple[str, ...]) -> list[FormPart]:
    """The form fields of a message's set members, as a REST caller's SDK writes them."""
    return [
        FormPart(name, str(getattr(message, name)).encode())
        for name in names
        if message.HasField(name)
    ]


# The members of an `ImageEditRequest` that are form fields as they are.
_EDIT_FIELDS = (
    "model",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "input_fidelity",
    "response_format",
)


def image_edit_parts(request: images_pb2.ImageEditRequest) -> list[FormPart]:
    """An `ImageEditRequest` as the form a REST caller would send for it (several images as
    `image[]`, as the SDKs send them)."""
    name = "image[]" if len(request.images) > 1 else "image"
    parts = [FormPart(name, image.data, image.filename or "image.png") for image in request.images]
    parts.append(FormPart("prompt", request.prompt.encode()))
    if request.HasField("mask"):
        parts.append(FormPart("mask", request.mask.data, request.mask.filename or "mask.png"))
    parts += _text_parts(request, _EDIT_FIELDS)
    if request.user:
        parts.append(FormPart("user", request.user.encode()))
    return parts


def image_variation_parts(request: images_pb2.ImageVariationRequest) -> list[FormPart]:
    """An `ImageVariationRequest` as the form a REST caller would send for it."""
    parts = [FormPart("image", request.image.data, request.image.filename or "image.png")]
    parts += _text_parts(request, ("model", "n", "size", "response_format"))
    if request.user:
        parts.append(FormPart("user", request.user.encode()))
    return parts

"""Canonical answers to typed response messages.

Explicit code rather than json_format, because it runs for every streamed chunk. Members the
typed API does not model (an upstream's own extensions) are left out here; REST callers get them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from llm_gateway.api.grpc.packed_vectors import with_vectors
from llm_gateway.api.grpc.struct_values import set_value
from llm_gateway.model.canonical import (
    AnswerMessage,
    ChatChunk,
    ChatCompletion,
    Delta,
    EmbeddingList,
    ImageList,
    ModerationList,
    TextCompletion,
)
from llm_gateway.v1 import (
    audio_pb2,
    chat_pb2,
    common_pb2,
    completions_pb2,
    embeddings_pb2,
    images_pb2,
    models_pb2,
    moderations_pb2,
)

_NO_MESSAGE: AnswerMessage = {"role": "assistant", "content": None}
_NO_DELTA: Delta = {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _details(target: Any, source: Any) -> None:
    for key, value in source.items():
        if isinstance(value, int) and key in target.DESCRIPTOR.fields_by_name:
            setattr(target, key, value)


def _usage(target: common_pb2.Usage, usage: Mapping[str, Any]) -> None:
    target.prompt_tokens = _int(usage.get("prompt_tokens"))
    target.completion_tokens = _int(usage.get("completion_tokens"))
    target.total_tokens = _int(usage.get("total_tokens"))
    prompt_details = usage.get("prompt_tokens_details")
    if isinstance(prompt_details, dict):
        _details(target.prompt_tokens_details, prompt_details)
    completion_details = usage.get("completion_tokens_details")
    if isinstance(completion_details, dict):
        _details(target.completion_tokens_details, completion_details)


def _envelope(target: Any, answer: Mapping[str, Any]) -> None:
    target.id = _str(answer.get("id"))
    target.object = _str(answer.get("object"))
    target.created = _int(answer.get("created"))
    target.model = _str(answer.get("model"))
    fingerprint = answer.get("system_fingerprint")
    if isinstance(fingerprint, str):
        target.system_fingerprint = fingerprint
    usage = answer.get("usage")
    if isinstance(usage, dict):
        _usage(target.usage, usage)


def _completion_logprobs(target: completions_pb2.CompletionLogprobs, data: dict[str, Any]) -> None:
    target.tokens.extend(data.get("tokens") or ())
    for value in data.get("token_logprobs") or ():
        set_value(target.token_logprobs.add(), value)
    for alternatives in data.get("top_logprobs") or ():
        target.top_logprobs.add().logprobs.update(alternatives or {})
    target.text_offset.extend(data.get("text_offset") or ())


def completion(answer: TextCompletion) -> completions_pb2.CompletionResponse:
    """Returns a `text_completion` (whole or chunk) as a `CompletionResponse`."""
    out = completions_pb2.CompletionResponse()
    _envelope(out, answer)
    for choice in answer.get("choices") or ():
        target = out.choices.add(text=_str(choice.get("text")), index=_int(choice.get("index")))
        if choice.get("finish_reason") is not None:
            target.finish_reason = _str(choice["finish_reason"])
        if isinstance(logprobs := choice.get("logprobs"), dict):
            _completion_logprobs(target.logprobs, logprobs)
    return out


def _token_logprobs(target: Any, entries: Any) -> None:
    for entry in entries or ():
        token = target.add(token=_str(entry.get("token")), logprob=entry.get("logprob") or 0.0)
        token.bytes.extend(entry.get("bytes") or ())
        for top in entry.get("top_logprobs") or ():
            alt = token.top_logprobs.add(
                token=_str(top.get("token")), logprob=top.get("logprob") or 0.0
            )
            alt.bytes.extend(top.get("bytes") or ())


def _chat_logprobs(target: chat_pb2.ChatLogprobs, data: dict[str, Any]) -> None:
    target.SetInParent()
    _token_logprobs(target.content, data.get("content"))
    _token_logprobs(target.refusal, data.get("refusal"))


def _tool_calls(target: Any, calls: Any) -> None:
    for call in calls or ():
        out = target.add(id=_str(call.get("id")), type=_str(call.get("type")))
        if isinstance(call.get("function"), dict):
            out.function.name = _str(call["function"].get("name"))
            out.function.arguments = _str(call["function"].get("arguments"))
        elif isinstance(call.get("custom"), dict):
            out.custom.name = _str(call["custom"].get("name"))
            out.custom.input = _str(call["custom"].get("input"))


def _chat_envelope(target: Any, answer: ChatCompletion | ChatChunk) -> None:
    _envelope(target, answer)
    if isinstance(answer.get("service_tier"), str):
        target.service_tier = answer["service_tier"]
    if isinstance(answer.get("moderation"), dict):
        target.moderation.update(answer["moderation"])


def chat_completion(answer: ChatCompletion) -> chat_pb2.ChatCompletionResponse:
    """Returns a `chat.completion` as a `ChatCompletionResponse`."""
    out = chat_pb2.ChatCompletionResponse()
    _chat_envelope(out, answer)
    if isinstance(metadata := answer.get("metadata"), dict):
        out.metadata.update({str(k): str(v) for k, v in metadata.items()})
    for choice in answer.get("choices") or ():
        target = out.choices.add(index=_int(choice.get("index")))
        message = choice.get("message") or _NO_MESSAGE  # an upstream's, as it made it
        target.message.role = _str(message.get("role"))
        for name in ("content", "refusal"):
            if isinstance(message.get(name), str):
                setattr(target.message, name, message[name])
        _tool_calls(target.message.tool_calls, message.get("tool_calls"))
        for annotation in message.get("annotations") or ():
            target.message.annotations.add().update(annotation)
        if isinstance(audio := message.get("audio"), dict):
            target.message.audio.update(audio)
        if isinstance(function_call := message.get("function_call"), dict):
            target.message.function_call.name = _str(function_call.get("name"))
            target.message.function_call.arguments = _str(function_call.get("arguments"))
        if choice.get("finish_reason") is not None:
            target.finish_reason = _str(choice["finish_reason"])
        if isinstance(logprobs := choice.get("logprobs"), dict):
            _chat_logprobs(target.logprobs, logprobs)
    return out


def _function_delta(target: chat_pb2.FunctionCallDelta, data: Mapping[str, Any]) -> None:
    target.SetInParent()
    if data.get("name") is not None:
        target.name = _str(data["name"])
    if data.get("arguments") is not None:
        target.arguments = _str(data["arguments"])


def chat_chunk(chunk: ChatChunk) -> chat_pb2.ChatCompletionChunk:
    """Returns a `chat.completion.chunk` as a `ChatCompletionChunk`."""
    out = chat_pb2.ChatCompletionChunk()
    _chat_envelope(out, chunk)
    if isinstance(chunk.get("obfuscation"), str):
        out.obfuscation = chunk["obfuscation"]
    for choice in chunk.get("choices") or ():
        target = out.choices.add(index=_int(choice.get("index")))
        delta = choice.get("delta") or _NO_DELTA
        target.delta.SetInParent()
        for name in ("role", "content", "refusal"):
            if isinstance(delta.get(name), str):
                setattr(target.delta, name, delta[name])
        for call in delta.get("tool_calls") or ():
            out_call = target.delta.tool_calls.add(index=_int(call.get("index")))
            if isinstance(call_id := call.get("id"), str):
                out_call.id = call_id
            if isinstance(kind := call.get("type"), str):
                out_call.type = kind
            if isinstance(function := call.get("function"), dict):
                _function_delta(out_call.function, function)
        if isinstance(function_call := delta.get("function_call"), dict):
            _function_delta(target.delta.function_call, function_call)
        if (finish := choice.get("finish_reason")) is not None:
            target.finish_reason = _str(finish)
        if isinstance(logprobs := choice.get("logprobs"), dict):
            _chat_logprobs(target.logprobs, logprobs)
    return out


def embedding_response(answer: EmbeddingList) -> embeddings_pb2.EmbeddingResponse:
    """Returns an OpenAI embedding list as an `EmbeddingResponse` of packed floats."""
    usage = answer.get("usage") or {}
    response = embeddings_pb2.EmbeddingResponse(
        model=_str(answer.get("model")),
        usage=embeddings_pb2.EmbeddingUsage(
            prompt_tokens=_int(usage.get("prompt_tokens")),
            total_tokens=_int(usage.get("total_tokens")),
        ),
    )
    return with_vectors(response, answer.get("data") or ())


def moderation_response(answer: ModerationList) -> moderations_pb2.ModerationResponse:
    """Returns OpenAI's moderation results as a `ModerationResponse`."""
    results = []
    for result in answer.get("results") or ():
        applied = result.get("category_applied_input_types") or {}
        results.append(
            moderations_pb2.ModerationResult(
                flagged=bool(result.get("flagged")),
                categories={k: bool(v) for k, v in (result.get("categories") or {}).items()},
                category_scores={
                    k: float(v) for k, v in (result.get("category_scores") or {}).items()
                },
                category_applied_input_types={
                    k: moderations_pb2.InputTypes(types=v) for k, v in applied.items()
                },
            )
        )
    return moderations_pb2.ModerationResponse(
        id=_str(answer.get("id")), model=_str(answer.get("model")), results=results
    )


def images_response(answer: ImageList) -> images_pb2.ImagesResponse:
    """Returns OpenAI's `ImagesResponse` as the typed one, each image as its bytes."""
    images = []
    for item in answer.get("data") or ():
        encoded = item.get("b64_json")
        images.append(
            images_pb2.Image(
                data=base64.b64decode(encoded) if isinstance(encoded, str) else b"",
                url=_str(item.get("url")),
                revised_prompt=_str(item.get("revised_prompt")),
            )
        )
    response = images_pb2.ImagesResponse(created=_int(answer.get("created")), data=images)
    usage = answer.get("usage")
    if isinstance(usage, dict):  # the GPT image models' tokens
        response.usage.CopyFrom(
            images_pb2.ImageUsage(
                input_tokens=_int(usage.get("input_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
                total_tokens=_int(usage.get("total_tokens")),
            )
        )
    return response


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _segment(segment: dict[str, Any]) -> audio_pb2.TranscriptionSegment:
    return audio_pb2.TranscriptionSegment(
        id=_int(segment.get("id")),
        text=_str(segment.get("text")),
        start=_float(segment.get("start")),
        end=_float(segment.get("end")),
        avg_logprob=_float(segment.get("avg_logprob")),
        no_speech_prob=_float(segment.get("no_speech_prob")),
        speaker=_str(segment.get("speaker")),
    )


def transcription_event(event: dict[str, Any]) -> audio_pb2.TranscriptionEvent:
    """Returns one `transcript.text.*` event as the typed `TranscriptionEvent`."""
    kind = event.get("type")
    if kind == "transcript.text.delta":
        return audio_pb2.TranscriptionEvent(delta=_str(event.get("delta")))
    if kind == "transcript.text.segment":
        return audio_pb2.TranscriptionEvent(segment=_segment(event))
    return audio_pb2.TranscriptionEvent(done=transcription(event))


def transcription(answer: dict[str, Any]) -> audio_pb2.TranscriptionResponse:
    """Returns a transcription's or translation's JSON (`json` or `verbose_json`) as the
    typed `TranscriptionResponse`."""
    response = audio_pb2.TranscriptionResponse(
        text=_str(answer.get("text")),
        words=[
            audio_pb2.TranscriptionWord(
                word=_str(word.get("word")),
                start=_float(word.get("start")),
                end=_float(word.get("end")),
            )
            for word in answer.get("words") or ()
            if isinstance(word, dict)
        ],
        segments=[
            _segment(segment)
            for segment in answer.get("segments") or ()
            if isinstance(segment, dict)
        ],
    )
    if isinstance(answer.get("language"), str):
        response.language = answer["language"]
    if "duration" in answer:
        response.duration = _float(answer["duration"])
    usage = answer.get("usage")
    if isinstance(usage, dict):
        response.usage.CopyFrom(
            audio_pb2.TranscriptionUsage(
                input_tokens=_int(usage.get("input_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
                seconds=_float(usage.get("seconds")),
            )
        )
    return response


def model(data: dict[str, Any]) -> models_pb2.Model:
    """Returns an OpenAI `model` object (with the gateway's `llm_gateway` member) as a
    `Model`."""
    extension = data.get("llm_gateway") or {}
    price = extension.get("price")
    return models_pb2.Model(
        id=_str(data.get("id")),
        object=_str(data.get("object")),
        created=_int(data.get("created")),
        owned_by=_str(data.get("owned_by")),
        llm_gateway=models_pb2.ModelFacts(
            operations=extension.get("operations") or (),
            price=models_pb2.ModelPrice(**price) if price else None,
        ),
    )


def model_list(data: dict[str, Any]) -> models_pb2.ListModelsResponse:
    """Returns an OpenAI model `list` as a `ListModelsResponse`."""
    return models_pb2.ListModelsResponse(
        object=_str(data.get("object")), data=[model(m) for m in data.get("data") or ()]
    )

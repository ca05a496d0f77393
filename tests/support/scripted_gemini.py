"""A scripted Gemini API upstream: a test double of the Gemini API's wire format.

Served by `ScriptedUpstream` under `/gemini/v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`. Streams follow the API reference: each SSE event is a whole
`GenerateContentResponse` with the next piece of each candidate's text; a function call comes
whole in one part; the last event carries `finishReason` and `usageMetadata`. There is no end
marker. The model in the path picks the behaviour:

- `echo`: answers with the last user text, one word per event; honours `candidateCount`
  (candidate `i` prefixes its words with `c<i>:` after the first), `maxOutputTokens`
  (`MAX_TOKENS`), `stopSequences`, function declarations (a `functionCall` of the first or the
  only allowed function) and `responseMimeType: application/json` (a JSON object); answers a
  turn of `functionResponse` parts with `result: <response>`.
- `safety-block`: the prompt is blocked (`promptFeedback.blockReason`, no candidates).
- `rate-limited`: 429 `RESOURCE_EXHAUSTED`. `error-in-stream`: one event, then an error event.
- `fail-midstream`: two events, then the connection is cut.
- `agent`: a coding agent's first turn naming a `.txt` file gets a call of its file reader
  (`read_file` or `Read`); the turn with its response gets `result: <response>`.

A `generationConfig.responseModalities` of `IMAGE` asks for an image: a model whose name says
`image` answers one PNG (`inlineData`, the scripted images' `PNG`) and its usage, or for a
prompt with `forbidden` in it finish reason `IMAGE_SAFETY` and no image; any other model, or
an `imageConfig.aspectRatio` Gemini does not list, is a 400 `INVALID_ARGUMENT`.

With a `generationConfig.thinkingConfig` the answer's first part carries a `thoughtSignature`
(after a thought part, with `includeThoughts`); with a `thinkingConfig`, a model turn
whose first `functionCall` part lacks the signature it came with (or the one Gemini documents
for calls another model made) is refused, as thinking models do.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

import pydantic
from aiohttp import web
from google.genai import types

from tests.support import agent_task
from tests.support.scripted_images import PNG

if TYPE_CHECKING:
    from tests.support.scripted_upstream import Recorded

CALL_ARGS = {"city": "Paris"}
THOUGHT = {"text": "Thinking it over.", "thought": True}
SIGNATURE = "c2lnbmF0dXJlLWdlbWluaQ=="
# Ours, and the one Gemini documents for function calls another model made.
_VALID_SIGNATURES = (SIGNATURE, "skip_thought_signature_validator")


def _thinking(body: dict[str, Any]) -> dict[str, Any] | None:
    return (body.get("generationConfig") or {}).get("thinkingConfig")


def _signed(body: dict[str, Any], parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of an answer with thinking on: a signature on the first (as thinking models
    sign every turn), after a thought when thoughts are asked for."""
    thinking = _thinking(body)
    if thinking is None or not parts:
        return parts
    signed = [{**parts[0], "thoughtSignature": SIGNATURE}, *parts[1:]]
    return [THOUGHT, *signed] if thinking.get("includeThoughts") else signed


# The request body's fields, checked as the real API checks them: google-genai's types forbid
# unknown fields, as the API refuses an unknown name in its JSON payload.
_REQUEST_FIELDS: dict[str, pydantic.TypeAdapter[Any]] = {
    "contents": pydantic.TypeAdapter(list[types.Content]),
    "systemInstruction": pydantic.TypeAdapter(types.Content),
    "tools": pydantic.TypeAdapter(list[types.Tool]),
    "toolConfig": pydantic.TypeAdapter(types.ToolConfig),
    "generationConfig": pydantic.TypeAdapter(types.GenerationConfig),
    "safetySettings": pydantic.TypeAdapter(list[types.SafetySetting]),
    "cachedContent": pydantic.TypeAdapter(str),
    "labels": pydantic.TypeAdapter(dict[str, str]),
}
_IMAGE_CONFIG = pydantic.TypeAdapter(types.ImageConfig)


def refusal(body: Any) -> dict[str, Any] | None:
    """The API's 400 `INVALID_ARGUMENT` for a body it would not accept, else None."""
    if not isinstance(body, dict):
        return _invalid("Invalid JSON payload received.")
    for name, value in body.items():
        if name == "generationConfig" and isinstance(value, dict) and "imageConfig" in value:
            # The wire's `generationConfig` has it (the SDK sends GenerateContentConfig's
            # image_config there); the SDK's GenerationConfig type has not.
            value = {k: v for k, v in value.items() if k != "imageConfig"}
            try:
                _IMAGE_CONFIG.validate_python(body[name]["imageConfig"])
            except pydantic.ValidationError as exc:
                return _invalid(f"Invalid JSON payload received at {name}.imageConfig: {exc}")
        adapter = _REQUEST_FIELDS.get(name)
        if adapter is None:
            return _invalid(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )
        try:
            adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            where = ".".join(str(part) for part in exc.errors()[0]["loc"])
            return _invalid(
                f"Invalid JSON payload received at {name}.{where}: {exc.errors()[0]['msg']}"
            )
    if not body.get("contents"):
        return _invalid("* GenerateContentRequest.contents: contents is not specified")
    if _thinking(body) is not None:
        for index, content in enumerate(body.get("contents") or ()):
            calls = [p for p in content.get("parts") or () if "functionCall" in p]
            if calls and calls[0].get("thoughtSignature") not in _VALID_SIGNATURES:
                return _invalid(
                    f"Function call is missing a thought_signature in functionCall parts "
                    f"(contents[{index}])."
                )
    return None


def _invalid(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


def _last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body["contents"]):
        if content.get("role") == "model":
            continue
        results = [p["functionResponse"] for p in content["parts"] if "functionResponse" in p]
        if results:
            return "result: " + " ".join(json.dumps(r["response"]) for r in results)
        return " ".join(p.get("text", "") for p in content["parts"])
    return "hello"


def _call(body: dict[str, Any], model: str) -> dict[str, Any] | None:
    declarations = [d for t in body.get("tools") or () for d in t.get("functionDeclarations", ())]
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    last = body["contents"][-1]["parts"]
    if model == "agent":
        return _agent_call(body, [d["name"] for d in declarations], last)
    if (
        not declarations
        or config.get("mode") == "NONE"
        or any("functionResponse" in p for p in last)
    ):
        return None
    name = (config.get("allowedFunctionNames") or [declarations[0]["name"]])[0]
    return {"name": name, "args": CALL_ARGS, "id": "fc_1"}


def _agent_call(
    body: dict[str, Any], names: list[str], last: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """A coding agent's first turn naming a `.txt` file: a call of its file reader."""
    path, name = agent_task.path_asked_for(body["contents"]), agent_task.reader(names)
    if name is None or path is None or any("functionResponse" in p for p in last):
        return None
    return {"name": name, "args": agent_task.arguments(name, path), "id": "fc_1"}


def _plan(body: dict[str, Any], model: str) -> tuple[list[str], str, dict[str, Any] | None]:
    config = body.get("generationConfig") or {}
    call = _call(body, model)
    if call:
        return [], "STOP", call
    if config.get("responseMimeType") == "application/json":
        return [json.dumps({"answer": _last_user_text(body)})], "STOP", None
    words = [w + " " for w in _last_user_text(body).split()] or ["ok "]
    words[-1] = words[-1].rstrip()
    for index, word in enumerate(words):
        if any(stop in word for stop in config.get("stopSequences") or ()):
            return words[:index], "STOP", None
    limit = config.get("maxOutputTokens")
    if limit is not None and limit < len(words):
        return words[:limit], "MAX_TOKENS", None
    return words, "STOP", None


def _usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    prompt = len(_last_user_text(body).split())
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }


def _text(index: int, word: str, first: bool) -> str:
    return word if index == 0 or not first else f"c{index}:{word}"


def whole_answer(body: dict[str, Any], model: str) -> dict[str, Any]:
    words, finish, call = _plan(body, model)
    n = (body.get("generationConfig") or {}).get("candidateCount") or 1
    candidates = []
    for index in range(n):
        parts: list[dict[str, Any]] = [{"functionCall": call}] if call else []
        if words:
            parts.append({"text": _text(index, words[0], True) + "".join(words[1:])})
        parts = _signed(body, parts)
        candidates.append(
            {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": index}
        )
    return {
        "candidates": candidates,
        "usageMetadata": _usage(body, (len(words) or 3) * n),
        "modelVersion": model,
        "responseId": "resp-1",
    }


def stream_answers(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    words, finish, call = _plan(body, model)
    n = (body.get("generationConfig") or {}).get("candidateCount") or 1
    answers = []
    for position, word in enumerate(words):
        candidates = []
        for i in range(n):
            parts = [{"text": _text(i, word, position == 0)}]
            if position == 0:
                parts = _signed(body, parts)
            candidates.append({"content": {"role": "model", "parts": parts}, "index": i})
        answers.append({"candidates": candidates, "modelVersion": model, "responseId": "resp-1"})
    last_parts = [{"functionCall": call}] if call else [{"text": ""}]
    if call and not words:
        last_parts = _signed(body, last_parts)
    answers.append(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": last_parts},
                    "finishReason": finish,
                    "index": i,
                }
                for i in range(n)
            ],
            "usageMetadata": _usage(body, (len(words) or 3) * n),
            "modelVersion": model,
            "responseId": "resp-1",
        }
    )
    return answers


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


def counted_tokens(body: dict[str, Any]) -> int:
    """What the double counts for a `countTokens` request: a token per word, plus 3."""
    request = body.get("generateContentRequest") or body
    return 3 + len(json.dumps(request.get("contents")).split())


async def count(recorded: Recorded) -> web.StreamResponse:
    """`models/{model}:countTokens`: `contents` or a `generateContentRequest`, nothing else."""
    body = recorded.body
    unknown = sorted(set(body) - {"contents", "generateContentRequest"})
    if unknown:
        return web.json_response(
            _invalid(
                f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
            ),
            status=400,
        )
    inner = body.get("generateContentRequest")
    refused = refusal({k: v for k, v in inner.items() if k != "model"}) if inner else None
    if refused is not None:
        return web.json_response(refused, status=400)
    return web.json_response({"totalTokens": counted_tokens(body)})


# The aspect ratios Gemini's image models make.
ASPECT_RATIOS = frozenset(("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"))


def _image_answer(body: dict[str, Any], model: str) -> tuple[dict[str, Any], int]:
    """An image model's answer (and its status) to a request for the `IMAGE` modality."""
    if "image" not in model:
        return _invalid("Multi-modal output is not supported by this model."), 400
    ratio = (body["generationConfig"].get("imageConfig") or {}).get("aspectRatio")
    if ratio is not None and ratio not in ASPECT_RATIOS:
        return _invalid(f"Unsupported aspect ratio: {ratio}."), 400
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 1290, "totalTokenCount": 1297}
    if "forbidden" in _last_user_text(body):
        candidate: dict[str, Any] = {"finishReason": "IMAGE_SAFETY", "index": 0}
    else:
        image = {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}
        candidate = {
            "content": {"role": "model", "parts": [{"inlineData": image}]},
            "finishReason": "STOP",
            "index": 0,
        }
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}, 200


async def handle(
    request: web.Request, recorded: Recorded, model: str, stream: bool
) -> web.StreamResponse:
    body = recorded.body
    refused = refusal(body)
    if refused is not None:
        return web.json_response(refused, status=400)
    if "IMAGE" in ((body.get("generationConfig") or {}).get("responseModalities") or ()):
        answer, status = _image_answer(body, model)
        return web.json_response(answer, status=status)
    if model == "rate-limited":
        error = {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted",
                "status": "RESOURCE_EXHAUSTED",
            }
        }
        return web.json_response(error, status=429)
    if model == "safety-block":
        blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": _usage(body, 0)}
        if not stream:
            return web.json_response(blocked)
    if not stream:
        return web.json_response(whole_answer(body, model))
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    try:
        if model == "safety-block":
            await response.write(sse(blocked))
            return response
        for number, answer in enumerate(stream_answers(body, model)):
            if model == "error-in-stream" and number == 1:
                error = {
                    "error": {
                        "code": 500,
                        "message": "Internal error encountered.",
                        "status": "INTERNAL",
                    }
                }
                await response.write(sse(error))
                return response
            if model == "fail-midstream" and number == 2:
                request.transport.close()  # type: ignore[union-attr]
                return response
            await response.write(sse(answer))
        recorded.completed = True
    finally:
        recorded.closed_at = time.monotonic()
    return response

"""The scripted upstream's image APIs: `POST /v1/images/generations` (JSON, and the
`partial_images` event stream of the GPT image models), `/v1/images/edits` and
`/v1/images/variations` (multipart), refusing what OpenAI's refuse.

Every image is the same 1x1 PNG (`PNG`), as `b64_json` or a URL. A GPT image model
(`gpt-image-*`) reports token usage and streams; `dall-e-*` models do neither and refuse
`stream`. Refusals (400, OpenAI's shape): an unknown member, a missing `prompt` (generations and
edits) or `image` (edits and variations), `n` above 1 for dall-e-3, a file that is not PNG for
dall-e-2, `stream` on a model that does not stream.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aiohttp import web

from tests.support.scripted_refusals import invalid_request

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
_GENERATION_FIELDS = frozenset(
    (
        "prompt", "model", "n", "quality", "response_format", "output_format",
        "output_compression", "stream", "partial_images", "size", "moderation", "background",
        "style", "user",
    )
)  # fmt: skip
_EDIT_FIELDS = frozenset(
    (
        "image", "image[]", "prompt", "mask", "background", "model", "n", "size",
        "response_format", "output_format", "output_compression", "user", "input_fidelity",
        "stream", "partial_images", "quality",
    )
)  # fmt: skip
_VARIATION_FIELDS = frozenset(("image", "model", "n", "response_format", "size", "user"))
CREATED = 1_700_000_000


def _usage(model: str) -> dict[str, Any] | None:
    if not model.startswith("gpt-image"):
        return None
    return {
        "input_tokens": 12,
        "output_tokens": 272,
        "total_tokens": 284,
        "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
    }


def _images(fields: dict[str, Any], model: str) -> dict[str, Any]:
    count = int(fields.get("n") or 1)
    encoded = base64.b64encode(PNG).decode()
    url = fields.get("response_format") == "url" or (
        not model.startswith("gpt-image") and fields.get("response_format") != "b64_json"
    )
    item = {"url": "https://images.example/1.png"} if url else {"b64_json": encoded}
    if model == "dall-e-3":
        item["revised_prompt"] = str(fields.get("prompt"))
    answer: dict[str, Any] = {"created": CREATED, "data": [dict(item) for _ in range(count)]}
    if (usage := _usage(model)) is not None:
        answer["usage"] = usage
    return answer


def _frame(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


async def _stream(request: web.Request, fields: dict[str, Any], prefix: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    encoded = base64.b64encode(PNG).decode()
    common = {"created_at": CREATED, "size": "1024x1024", "quality": "low",
              "background": "opaque", "output_format": "png"}  # fmt: skip
    for index in range(int(fields.get("partial_images") or 0)):
        payload = {**common, "b64_json": encoded, "partial_image_index": index}
        await response.write(_frame(f"{prefix}.partial_image", payload))
    usage = _usage(str(fields.get("model")))
    await response.write(_frame(f"{prefix}.completed", {**common, "b64_json": encoded,
                                                       "usage": usage}))  # fmt: skip
    return response


def _checked(fields: dict[str, Any], known: frozenset[str], model: str) -> web.Response | None:
    for name in fields:
        if name not in known:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    if model == "dall-e-3" and int(fields.get("n") or 1) > 1:
        return invalid_request("You must provide n=1 for this model.", "n")
    if str(fields.get("stream")).lower() == "true" and not model.startswith("gpt-image"):
        return invalid_request("Streaming is not supported for this model.", "stream")
    return None


async def generations(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    """Answers `/v1/images/generations`."""
    model = str(body.get("model") or "dall-e-2")
    if (refused := _checked(body, _GENERATION_FIELDS, model)) is not None:
        return refused
    if not isinstance(body.get("prompt"), str):
        return invalid_request("Missing required parameter: 'prompt'.", "prompt")
    if body.get("stream"):
        return await _stream(request, body, "image_generation")
    return web.json_response(_images(body, model))


async def read_form(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A multipart request's text fields, and its files (field, name, type, size, digest)."""
    fields: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = await part.read()  # type: ignore[union-attr]
        name = part.name or ""
        if part.filename is not None:  # type: ignore[union-attr]
            files.append(
                {
                    "field": name,
                    "filename": part.filename,  # type: ignore[union-attr]
                    "content_type": part.headers.get("content-type"),
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "png": data.startswith(b"\x89PNG"),
                }
            )
        elif name in fields:
            fields.setdefault("duplicated", []).append(name)
        else:
            fields[name] = data.decode()
    return fields, files


def _form_checked(
    fields: dict[str, Any], files: list[dict[str, Any]], known: frozenset[str], model: str
) -> web.Response | None:
    if fields.get("duplicated"):
        return invalid_request(f"Duplicate parameter: '{fields['duplicated'][0]}'.")
    every = {**fields, **{f["field"]: True for f in files}}
    if (refused := _checked(every, known, model)) is not None:
        return refused
    images = [f for f in files if f["field"] in ("image", "image[]")]
    if not images:
        return invalid_request("Missing required parameter: 'image'.", "image")
    if model == "dall-e-2" and not all(f["png"] for f in images):
        message = "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB."
        return invalid_request(message, "image")
    return None


async def edits(request: web.Request, fields: dict[str, Any], files: list[dict[str, Any]]
                ) -> web.StreamResponse:  # fmt: skip
    """Answers `/v1/images/edits`."""
    model = str(fields.get("model") or "dall-e-2")
    if (refused := _form_checked(fields, files, _EDIT_FIELDS, model)) is not None:
        return refused
    if "prompt" not in fields:
        return invalid_request("Missing required parameter: 'prompt'.", "prompt")
    if str(fields.get("stream")).lower() == "true":
        return await _stream(request, {**fields, "model": model}, "image_edit")
    return web.json_response(_images(fields, model))


async def variations(fields: dict[str, Any], files: list[dict[str, Any]]) -> web.Response:
    """Answers `/v1/images/variations` (dall-e-2 only)."""
    model = str(fields.get("model") or "dall-e-2")
    if (refused := _form_checked(fields, files, _VARIATION_FIELDS, model)) is not None:
        return refused
    return web.json_response(_images(fields, model))

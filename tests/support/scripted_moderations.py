"""The scripted upstream's `POST /v1/moderations`, refusing what OpenAI's refuses.

An input is flagged for `violence` when its text holds "kill" (scores 0.9, else 0.01); with an
image part (any URL), the categories OpenAI judges on images say `image` as well as `text`.
The text-only models (`text-moderation-*`) refuse image parts, as OpenAI's do; a missing
`input`, an unknown member and a part of an unknown type are 400s in OpenAI's shape.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.scripted_refusals import invalid_request

_FIELDS = frozenset(("input", "model"))
# OpenAI's categories, and whether each is judged on images too (the spec's enums).
CATEGORIES = {
    "harassment": False,
    "harassment/threatening": False,
    "hate": False,
    "hate/threatening": False,
    "illicit": False,
    "illicit/violent": False,
    "self-harm": True,
    "self-harm/instructions": True,
    "self-harm/intent": True,
    "sexual": True,
    "sexual/minors": False,
    "violence": True,
    "violence/graphic": True,
}


def _result(text: str, image: bool) -> dict[str, Any]:
    violent = "kill" in text.lower()
    return {
        "flagged": violent,
        "categories": {c: violent and c == "violence" for c in CATEGORIES},
        "category_scores": {c: 0.9 if violent and c == "violence" else 0.01 for c in CATEGORIES},
        "category_applied_input_types": {
            c: ["text", "image"] if image and on_images else ["text"]
            for c, on_images in CATEGORIES.items()
        },
    }


def answer(body: dict[str, Any]) -> web.Response:
    """Answers a moderations request."""
    for name in body:
        if name not in _FIELDS:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    model = str(body.get("model") or "omni-moderation-latest")
    given = body.get("input")
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not given:
        return invalid_request("'input' is a required property", "input")
    results = []
    if all(isinstance(item, str) for item in given):
        results = [_result(text, False) for text in given]
    else:
        texts, image = [], False
        for index, part in enumerate(given):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "image_url":
                if model.startswith("text-moderation"):
                    return invalid_request(
                        f"{model} does not support image inputs.", f"input[{index}]"
                    )
                image = True
            else:
                return invalid_request(
                    f"Invalid value for 'input[{index}].type'.", f"input[{index}].type"
                )
        results = [_result(" ".join(texts), image)]
    return web.json_response({"id": "modr-scripted", "model": model, "results": results})

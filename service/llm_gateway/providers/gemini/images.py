"""OpenAI's image generation request as a Gemini image model's `generateContent`, and its
answer back as OpenAI's `ImagesResponse`.

The prompt is one user turn asking for the `IMAGE` modality; `size` becomes
`imageConfig.aspectRatio` (Gemini picks the pixels); `n` images are `n` calls, since an image
model makes one candidate. Gemini answers with the image's bytes, so the answer is
`b64_json` (a `url` is a 400 naming `response_format`), in the format it made (PNG: another
`output_format` is refused). What Gemini's image models have no setting for (`quality`,
`style`, `background`, `moderation`, `output_compression`, `partial_images`, `stream`) is a
400 naming the field unless it asks for the default; `user`, a platform hint, is not sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from llm_gateway.errors import GatewayError
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.translation import unsupported

PROVIDER = "gemini"
# OpenAI's sizes as Gemini's aspect ratios (its nearest, for DALL-E 3's 1792 wide or tall).
ASPECT_RATIOS = {
    "256x256": "1:1",
    "512x512": "1:1",
    "1024x1024": "1:1",
    "1536x1024": "3:2",
    "1024x1536": "2:3",
    "1792x1024": "16:9",
    "1024x1792": "9:16",
}
# Members with no Gemini setting, and the values that ask for nothing (the API's defaults).
_DEFAULTS_ONLY: dict[str, tuple[Any, ...]] = {
    "quality": (None, "auto", "standard"),
    "style": (None,),
    "background": (None, "auto"),
    "moderation": (None, "auto"),
    "output_compression": (None,),
    "partial_images": (None, 0),
    "stream": (None, False),
    "output_format": (None, "png"),
    "response_format": (None, "b64_json"),
}
# The members the translation takes (`user`, a platform hint, is taken and not sent).
_TAKEN = frozenset(("model", "prompt", "n", "size", "user"))
# The finish reasons of an image refused for its content.
_REFUSED = frozenset(("SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"))


def generate_content_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The `generateContent` body that makes one of the request's images; raises a 400
    naming a member Gemini cannot honour."""
    for name, value in body.items():
        if name in _DEFAULTS_ONLY:
            if value not in _DEFAULTS_ONLY[name]:
                raise unsupported(name, PROVIDER, "Gemini's image models have no such setting.")
        elif name not in _TAKEN:
            raise unsupported(name, PROVIDER)
    config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
    size = body.get("size")
    if size not in (None, "auto"):
        if size not in ASPECT_RATIOS:
            raise unsupported("size", PROVIDER, f"It takes {', '.join(ASPECT_RATIOS)} or auto.")
        config["imageConfig"] = {"aspectRatio": ASPECT_RATIOS[size]}
    return {
        "contents": [{"role": "user", "parts": [{"text": body["prompt"]}]}],
        "generationConfig": config,
    }


def _image_of(answer: Mapping[str, Any]) -> str:
    """The base64 image of one `generateContent` answer; a refusal for its content is a 400,
    an answer without an image a 502."""
    candidates = answer.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(candidate, dict):
        raise upstream_errors.malformed()
    for part in (candidate.get("content") or {}).get("parts") or ():
        inline = part.get("inlineData") if isinstance(part, dict) else None
        data = inline.get("data") if isinstance(inline, dict) else None
        if isinstance(data, str):
            return data
    reason = candidate.get("finishReason")
    if reason in _REFUSED:
        raise GatewayError(
            400,
            "The image was refused by the model's safety system.",
            param="prompt",
            code="moderation_blocked",
        )
    raise upstream_errors.malformed()


def _count(metadata: Any, name: str) -> int:
    value = metadata.get(name) if isinstance(metadata, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0


def images_response(answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `generateContent` answers (one per image) as OpenAI's `ImagesResponse`, their
    token usage summed under the image API's names."""
    data = [{"b64_json": _image_of(answer)} for answer in answers]
    prompt = sum(_count(a.get("usageMetadata"), "promptTokenCount") for a in answers)
    made = sum(_count(a.get("usageMetadata"), "candidatesTokenCount") for a in answers)
    return {
        "created": int(time.time()),
        "data": data,
        "output_format": "png",
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"text_tokens": prompt, "image_tokens": 0},
            "output_tokens": made,
            "output_tokens_details": {"image_tokens": made, "text_tokens": 0},
            "total_tokens": prompt + made,
        },
    }

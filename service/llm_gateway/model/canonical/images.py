"""An image request and its answer in the canonical form: OpenAI's image APIs. Only
OpenAI-compatible upstreams make images, so both travel as the API has them."""

from __future__ import annotations

from typing import Any, Required, TypedDict


class ImageRequest(TypedDict, total=False):
    """A `/v1/images/generations` request (edits and variations are forms, relayed)."""

    model: Required[str]
    prompt: str
    n: int
    size: str
    quality: str
    response_format: str


class ImageList(TypedDict, total=False):
    """The answer: the images (`b64_json` or `url`, `revised_prompt`) and, for the GPT image
    models, the tokens."""

    created: Required[int]
    data: Required[list[dict[str, Any]]]
    usage: dict[str, Any]

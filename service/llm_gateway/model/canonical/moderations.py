"""A moderations request and its answer in the canonical form: OpenAI's `/v1/moderations`.
Only OpenAI-compatible upstreams moderate, so both travel as the API has them."""

from __future__ import annotations

from typing import Any, Required, TypedDict


class ModerationRequest(TypedDict, total=False):
    """A `/v1/moderations` request: a text, texts, or text and image parts."""

    model: Required[str]
    input: Required[str | list[str] | list[dict[str, Any]]]


class ModerationList(TypedDict):
    """The answer: a result per input (`flagged`, `categories`, `category_scores`,
    `category_applied_input_types`), in the inputs' order."""

    id: str
    model: str
    results: list[dict[str, Any]]

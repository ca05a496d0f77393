"""Anthropic's shapes for the models API (`GET /v1/models`, `GET /v1/models/{model_id}`),
which shares OpenAI's paths: a caller that sends `anthropic-version` gets these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from llm_gateway.dataplane import ServedModel

VERSION_HEADER = "anthropic-version"


def is_anthropic_caller(metadata: Mapping[str, str]) -> bool:
    """Whether the caller speaks Anthropic's API (its SDKs always send the version)."""
    return VERSION_HEADER in metadata


def model_object(model: ServedModel) -> dict[str, Any]:
    """An Anthropic `model` object."""
    created = datetime.fromtimestamp(model.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": model.id, "display_name": model.id, "created_at": created}


def model_list(models: list[ServedModel]) -> dict[str, Any]:
    """Anthropic's page of models: every model fits one page."""
    return {
        "data": [model_object(m) for m in models],
        "has_more": False,
        "first_id": models[0].id if models else None,
        "last_id": models[-1].id if models else None,
    }

"""Admin API messages to and from what the store keeps: key settings, usage, stored
responses."""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.auth.virtual_keys import SCALAR_SETTINGS, VirtualKey
from llm_gateway.store.responses import StoredResponse
from llm_gateway.usage.records import UsageRow
from llm_gateway.v1 import admin_pb2

_OPTIONAL = ("owner", "rpm", "tpm", "budget_tokens", "budget_cost", "expires_at", "revoked_at")


def api_key(key: VirtualKey) -> admin_pb2.ApiKey:
    """A stored key's settings as an `ApiKey`."""
    message = admin_pb2.ApiKey(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        models=list(key.models),
        budget_period=key.budget_period,
        enabled=key.enabled,
        metadata={str(k): str(v) for k, v in key.metadata.items()},
        created_at=key.created_at,
    )
    for name in _OPTIONAL:
        value = getattr(key, name)
        if value is not None:
            setattr(message, name, value)
    return message


def _present(message: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def create_settings(request: admin_pb2.CreateKeyRequest) -> dict[str, Any]:
    """The settings of a `CreateKeyRequest`."""
    settings = _present(
        request,
        ("owner", "rpm", "tpm", "budget_tokens", "budget_cost", "budget_period", "expires_at"),
    )
    settings["name"] = request.name
    if request.models:
        settings["models"] = tuple(request.models)
    if request.metadata:
        settings["metadata"] = dict(request.metadata)
    return settings


def update_changes(request: admin_pb2.UpdateKeyRequest) -> dict[str, Any]:
    """The changes an `UpdateKeyRequest` asks for."""
    changes = _present(request, SCALAR_SETTINGS)
    if request.models:
        changes["models"] = tuple(request.models)
    return changes


def usage_response(rows: list[UsageRow]) -> admin_pb2.GetUsageResponse:
    """Usage rows as a `GetUsageResponse`."""
    return admin_pb2.GetUsageResponse(
        rows=[
            admin_pb2.UsageRow(
                day=r.day,
                key_name=r.key_name,
                model=r.model,
                requests=r.requests,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost=r.cost,
                failed=r.failed,
                cancelled=r.cancelled,
                estimated=r.estimated,
            )
            for r in rows
        ]
    )


def stored_response(stored: StoredResponse) -> admin_pb2.StoredResponse:
    """A stored response, and whose it is."""
    message = admin_pb2.StoredResponse(
        id=stored.id,
        owner=stored.owner,
        created_at=stored.created_at,
        expires_at=stored.expires_at,
    )
    if stored.previous_id is not None:
        message.previous_response_id = stored.previous_id
    message.response.update(orjson.loads(stored.response))
    return message

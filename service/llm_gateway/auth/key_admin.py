"""The operations on virtual keys that the CLI and the admin API share."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from llm_gateway.auth.virtual_keys import VirtualKey, key_digest, new_key, new_key_id, shown_prefix
from llm_gateway.errors import invalid_request
from llm_gateway.store.base import Store
from llm_gateway.usage.records import UsageRow

PERIODS = ("day", "month", "total")
_DAY = 86_400


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Refuses settings no key can have; returns them."""
    if "name" in settings and not str(settings["name"]).strip():
        raise invalid_request("A key needs a name.", "name")
    if settings.get("budget_period", "month") not in PERIODS:
        raise invalid_request(
            f"budget_period must be one of {', '.join(PERIODS)}.", "budget_period"
        )
    for name in ("rpm", "tpm", "budget_tokens", "budget_cost"):
        value = settings.get(name)
        if value is not None and value <= 0:
            raise invalid_request(f"{name} must be greater than 0.", name)
    if "models" in settings and not settings["models"]:
        raise invalid_request("models must name at least one pattern.", "models")
    return settings


class KeyAdmin:
    """Creates, changes and reports on the virtual keys of one store."""

    def __init__(self, store: Store, secret: bytes) -> None:
        self._store = store
        self._secret = secret

    async def create(self, settings: dict[str, Any]) -> tuple[str, VirtualKey]:
        """Issues a key; returns the key itself (to show once) and its settings."""
        check_settings({"name": "", **settings})
        secret_key = new_key()
        blank = VirtualKey(id=new_key_id(), name=settings["name"], prefix=shown_prefix(secret_key))
        key = VirtualKey(**{**asdict(blank), **settings})
        await self._store.add_key(key, key_digest(self._secret, secret_key))
        return secret_key, key

    async def update(self, key_id: str, changes: dict[str, Any]) -> VirtualKey:
        """Changes settings of a key."""
        return await self._store.update_key(key_id, check_settings(changes))

    async def revoke(self, key_id: str) -> VirtualKey:
        """Revokes a key for good."""
        return await self._store.update_key(key_id, {"revoked_at": time.time()})

    async def get(self, key_id: str) -> VirtualKey:
        """One key's settings."""
        return await self._store.get_key(key_id)

    async def list_keys(self) -> list[VirtualKey]:
        """Every key, newest first."""
        return await self._store.list_keys()

    async def usage(self, days: int, key_name: str | None = None) -> list[UsageRow]:
        """Usage per key, model and day over the last `days` days."""
        return await self._store.usage(time.time() - days * _DAY, key_name)

"""API keys: those of the configuration, checked in constant time, and virtual keys.

A key may arrive as `authorization: Bearer <key>`, `x-api-key: <key>` or
`x-goog-api-key: <key>`: REST headers reach the gateway as gRPC metadata, so one function serves
both transports. Only SHA-256 digests of the configured keys are kept, and every stored digest
is compared on each call, so the time taken does not depend on which key (if any) matched.
Virtual keys (`sk-gw-...`) are looked up by their HMAC in the store (see `directory`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from llm_gateway.auth.directory import KeyDirectory
from llm_gateway.auth.virtual_keys import KEY_PREFIX, VirtualKey
from llm_gateway.config.settings import KeySettings
from llm_gateway.errors import invalid_api_key
from llm_gateway.limits.budget import Budget

_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller and the models its key may use."""

    key_name: str
    model_patterns: tuple[str, ...] = ("*",)
    # The virtual key's id; None for a key of the configuration file.
    key_id: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget: Budget | None = None

    def may_use(self, model: str) -> bool:
        """Whether the caller's key allows the public model name."""
        return any(fnmatchcase(model, pattern) for pattern in self.model_patterns)


def presented_key(metadata: Mapping[str, str]) -> str | None:
    """Returns the key the caller sent, from whichever of the three headers carries it."""
    authorization = metadata.get("authorization")
    if authorization is not None:
        if authorization[: len(_BEARER)].lower() == _BEARER:
            return authorization[len(_BEARER) :].strip() or None
        return None
    return metadata.get("x-api-key") or metadata.get("x-goog-api-key") or None


def _caller_of(key: VirtualKey) -> Caller:
    budget = None
    if key.budget_tokens is not None or key.budget_cost is not None:
        budget = Budget(key.budget_tokens, key.budget_cost, key.budget_period)
    return Caller(key.name, key.models, key.id, key.rpm, key.tpm, budget)


class KeyRing:
    """The configured keys, by digest, and the virtual keys of the store, if there is one."""

    def __init__(self, keys: Iterable[KeySettings], directory: KeyDirectory | None = None) -> None:
        self._directory = directory
        self._entries = [
            (
                hashlib.sha256(k.key.get_secret_value().encode()).digest(),
                Caller(k.name, tuple(k.models), None, k.rpm, k.tpm),
            )
            for k in keys
        ]

    async def authenticate(self, metadata: Mapping[str, str]) -> Caller:
        """Returns the caller whose key is in metadata, or raises a 401 `GatewayError`.

        Revoked, disabled and expired virtual keys are refused like unknown ones.
        """
        key = presented_key(metadata)
        if key is None:
            raise invalid_api_key()
        digest = hashlib.sha256(key.encode()).digest()
        found: Caller | None = None
        for stored, caller in self._entries:
            if hmac.compare_digest(stored, digest):
                found = caller
        if found is not None:
            return found
        if self._directory is not None and key.startswith(KEY_PREFIX):
            virtual = await self._directory.find(key)
            if virtual is not None and virtual.usable(time.time()):
                return _caller_of(virtual)
        raise invalid_api_key()

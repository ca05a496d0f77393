"""API keys from the configuration, checked in constant time.

A key may arrive as `authorization: Bearer <key>`, `x-api-key: <key>` or
`x-goog-api-key: <key>`: REST headers reach the gateway as gRPC metadata, so one function serves
both transports. Only SHA-256 digests of the keys are kept, and every stored digest is compared
on each call, so the time taken does not depend on which key (if any) matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from llm_gateway.config.settings import KeySettings
from llm_gateway.errors import invalid_api_key

_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller and the models its key may use."""

    key_name: str
    model_patterns: tuple[str, ...] = ("*",)

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


class KeyRing:
    """The configured keys, by digest."""

    def __init__(self, keys: Iterable[KeySettings]) -> None:
        self._entries = [
            (
                hashlib.sha256(k.key.get_secret_value().encode()).digest(),
                Caller(k.name, tuple(k.models)),
            )
            for k in keys
        ]

    def authenticate(self, metadata: Mapping[str, str]) -> Caller:
        """Returns the caller whose key is in metadata, or raises a 401 `GatewayError`."""
        key = presented_key(metadata)
        if key is None:
            raise invalid_api_key()
        digest = hashlib.sha256(key.encode()).digest()
        found: Caller | None = None
        for stored, caller in self._entries:
            if hmac.compare_digest(stored, digest):
                found = caller
        if found is None:
            raise invalid_api_key()
        return found

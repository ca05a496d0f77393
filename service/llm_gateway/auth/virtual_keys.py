"""Virtual keys: issued by the gateway, stored only as a keyed hash, limited per key.

A key is `sk-gw-` and 43 random URL-safe characters. The database holds its HMAC-SHA256 under
the server secret (so a stolen database yields no usable key and no way to test guesses
offline), a short prefix to recognise it by, and its settings. The key itself is shown once,
when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

KEY_PREFIX = "sk-gw-"
_SHOWN_PREFIX = 10  # characters of a key kept to recognise it by
# The single-valued settings that can be changed after creation (besides the lists `models`
# and `metadata`, and `revoked_at`).
SCALAR_SETTINGS = (
    "name",
    "owner",
    "rpm",
    "tpm",
    "budget_tokens",
    "budget_cost",
    "budget_period",
    "expires_at",
    "enabled",
)


def new_key() -> str:
    """A fresh virtual key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    """A fresh public id for a virtual key (safe to log and show)."""
    return "key_" + secrets.token_hex(8)


def key_digest(secret: bytes, key: str) -> str:
    """The stored form of a key: its HMAC-SHA256 under the server secret, in hex."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def shown_prefix(key: str) -> str:
    """The part of a key that lists show."""
    return key[:_SHOWN_PREFIX] + "..."


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A virtual key's settings, as stored (never the key itself)."""

    id: str
    name: str
    prefix: str
    owner: str | None = None
    models: tuple[str, ...] = ("*",)
    rpm: int | None = None
    tpm: int | None = None
    budget_tokens: int | None = None
    budget_cost: float | None = None
    budget_period: str = "month"
    expires_at: float | None = None
    enabled: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    revoked_at: float | None = None

    def usable(self, now: float) -> bool:
        """Whether the key may be used at `now` (seconds since the epoch)."""
        return (
            self.enabled
            and self.revoked_at is None
            and (self.expires_at is None or now < self.expires_at)
        )

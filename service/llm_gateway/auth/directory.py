"""Finds virtual keys in the store by the digest of the presented key, with a short cache.

The cache keeps answers (found or not) for `key_cache_seconds`: a busy key costs one database
lookup per period, and a flood of wrong keys cannot turn into a flood of queries. A revoked or
changed key takes effect within that period, or at once where the store notifies changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from llm_gateway.auth.virtual_keys import VirtualKey, key_digest
from llm_gateway.errors import keys_unavailable

if TYPE_CHECKING:  # the store's module needs the auth package: no import at run time
    from llm_gateway.store.base import Store

log = logging.getLogger(__name__)

_MAX_CACHED = 100_000


class KeyDirectory:
    """The virtual keys of one store, as the authenticator sees them."""

    def __init__(
        self,
        store: Store,
        secret: bytes,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._secret = secret
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[VirtualKey | None, float]] = {}

    def forget(self) -> None:
        """Drops every cached answer (a key changed somewhere)."""
        self._cache.clear()

    async def find(self, key: str) -> VirtualKey | None:
        """The stored key matching `key`, usable or not; None when there is none."""
        digest = key_digest(self._secret, key)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            found = await self._store.find_key(digest)
        except Exception as exc:
            # The database is down or unreachable: the caller may retry, it is not its fault.
            # The exception's type only: its text could quote the query's parameters.
            log.warning("cannot look up a virtual key: %s", type(exc).__name__)
            raise keys_unavailable() from None
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[digest] = (found, now + self._ttl)
        return found

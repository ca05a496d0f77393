"""Whose stored responses and conversations are: the caller's key."""

from __future__ import annotations

from llm_gateway.auth.keys import Caller


def owner_of(caller: Caller) -> str:
    """A virtual key's id, or a configured key's name (names are unique in the config)."""
    return f"key:{caller.key_id}" if caller.key_id is not None else f"config:{caller.key_name}"

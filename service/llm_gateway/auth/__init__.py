"""Caller authentication."""

from llm_gateway.auth.keys import Caller, KeyRing, presented_key

__all__ = ["Caller", "KeyRing", "presented_key"]

"""Anthropic's error bodies (`{"type": "error", "error": {"type", "message"}}`) in canonical
terms: its error type stays the type, and the types that have a canonical code get it."""

from __future__ import annotations

from typing import Any

from llm_gateway.providers.upstream_errors import ErrorFields

# Anthropic's error `type` → the canonical (OpenAI) code.
_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "overloaded_error": "upstream_overloaded",
    "request_too_large": "request_too_large",
    "authentication_error": "invalid_api_key",
    "permission_error": "permission_denied",
    "not_found_error": "not_found",
}


def error_fields(body: Any) -> ErrorFields:
    """The fields of an Anthropic error body (or of an `error` event of its stream)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ErrorFields()
    kind = error.get("type")
    return ErrorFields(error.get("message"), kind, None, _CODES.get(kind) if kind else None)

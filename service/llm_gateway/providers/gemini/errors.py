"""The Gemini API's error bodies (`{"error": {"code", "message", "status", "details"}}`) in
canonical terms: its status word (`RESOURCE_EXHAUSTED`) is the type, the field a `BadRequest`
detail names is the param, and the status gets its canonical code (never the bare number)."""

from __future__ import annotations

from typing import Any

from llm_gateway.providers.upstream_errors import ErrorFields

# Google's canonical status → the canonical (OpenAI) code.
_CODES = {
    "RESOURCE_EXHAUSTED": "rate_limit_exceeded",
    "INVALID_ARGUMENT": "invalid_value",
    "FAILED_PRECONDITION": "failed_precondition",
    "NOT_FOUND": "not_found",
    "PERMISSION_DENIED": "permission_denied",
    "UNAUTHENTICATED": "invalid_api_key",
    "UNAVAILABLE": "upstream_unavailable",
    "DEADLINE_EXCEEDED": "upstream_timeout",
}


def _field(details: Any) -> Any:
    """The first field a `google.rpc.BadRequest` detail names."""
    for detail in details if isinstance(details, list) else ():
        violations = detail.get("fieldViolations") if isinstance(detail, dict) else None
        if isinstance(violations, list) and violations and isinstance(violations[0], dict):
            return violations[0].get("field")
    return None


def error_fields(body: Any) -> ErrorFields:
    """The fields of a Gemini error body (or of an error event of its stream)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ErrorFields()
    status = error.get("status")
    code = _CODES.get(status) if isinstance(status, str) else None
    return ErrorFields(error.get("message"), status, _field(error.get("details")), code)

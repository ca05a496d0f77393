"""Maps what goes wrong upstream to the errors the caller sees.

Client errors keep the upstream's own reason, `param` and `code` (they are about the caller's
request), scrubbed of internals (see `upstream_messages`) or hidden when the provider says so;
server errors and credential failures get the gateway's words, so that nothing of the
upstream's internals or of the gateway's credentials reaches the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from llm_gateway.errors import GatewayError
from llm_gateway.providers.upstream_messages import scrub

# Upstream HTTP status → (status for the caller, code, message when the upstream's is not used).
_SERVER_SIDE: dict[int, tuple[int, str, str]] = {
    401: (502, "upstream_auth_failed", "The upstream provider rejected the gateway's credentials."),
    403: (502, "upstream_auth_failed", "The upstream provider rejected the gateway's credentials."),
    408: (504, "upstream_timeout", "The upstream provider timed out."),
    502: (502, "upstream_error", "The upstream provider failed (bad gateway)."),
    503: (503, "upstream_unavailable", "The upstream provider is unavailable."),
    504: (504, "upstream_timeout", "The upstream provider timed out."),
    529: (503, "upstream_overloaded", "The upstream provider is overloaded."),
}
_CLIENT_SIDE = {400: 400, 404: 404, 409: 409, 413: 413, 422: 400, 429: 429}


@dataclass(frozen=True, slots=True)
class ErrorFields:
    """What an upstream's error body says, read by its own API's rules, in canonical terms:
    `code` is OpenAI's vocabulary (`rate_limit_exceeded`, ...), `type` the upstream's own."""

    message: Any = None
    type: Any = None
    param: Any = None
    code: Any = None


# Reads one API family's error bodies (each provider has its own).
ErrorReader = Callable[[Any], ErrorFields]
# The canonical code of a refusal whose body names none, by the upstream's status.
_CODES_BY_STATUS = {429: "rate_limit_exceeded", 413: "request_too_large"}


def openai_error_fields(body: Any) -> ErrorFields:
    """OpenAI's and vLLM's `{"error": {...}}`; vLLM's older `{"message": ...}` and others;
    Ollama's `{"error": "text"}`."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return ErrorFields(
                error.get("message"), error.get("type"), error.get("param"), error.get("code")
            )
        if isinstance(error, str):
            return ErrorFields(error)
    return ErrorFields()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _name(value: Any) -> str | None:
    """A `param`, `type` or `code` worth relaying: short and free of internals."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value)
    return text if text is not None and len(text) <= 100 and scrub(text) == text else None


def _code(value: Any) -> str | None:
    """A code worth relaying: a word (a bare status number says nothing the status does not)."""
    return None if isinstance(value, int) else _name(value)


def _message(fields: ErrorFields, hide: bool, fallback: str) -> str:
    if hide:
        return fallback
    return scrub(_text(fields.message) or "") or fallback


def error_from_upstream(
    status: int,
    payload: bytes,
    retry_after: str | None,
    hide: bool = False,
    read: ErrorReader = openai_error_fields,
) -> GatewayError:
    """Returns the caller's error for an upstream HTTP error response, its body read by
    `read` (the upstream API's own rules); `hide` keeps the upstream's message from the
    caller (its `param` and `code` still come through)."""
    if status in _CLIENT_SIDE:
        try:
            fields = read(orjson.loads(payload))
        except orjson.JSONDecodeError:
            fields = ErrorFields()
        fallback = f"The upstream provider refused the request ({status})."
        return GatewayError(
            _CLIENT_SIDE[status],
            _message(fields, hide, fallback),
            type=_name(fields.type),
            param=_name(fields.param),
            code=_code(fields.code) or _CODES_BY_STATUS.get(status),
            retry_after=retry_after if status == 429 else None,
        )
    mapped_status, code, message = _SERVER_SIDE.get(
        status, (502, "upstream_error", f"The upstream provider failed ({status}).")
    )
    return GatewayError(mapped_status, message, code=code)


def error_in_stream(
    payload: dict[str, Any], hide: bool = False, read: ErrorReader = openai_error_fields
) -> GatewayError:
    """Returns the caller's error for an error event inside an upstream stream."""
    fields = read(payload)
    return GatewayError(
        502,
        _message(fields, hide, "The upstream provider failed during the stream."),
        type=_name(fields.type),
        param=_name(fields.param),
        code=_code(fields.code) or "upstream_error",
    )


def no_api_key(variable: str | None) -> GatewayError:
    """The upstream refused the gateway's request, which carried no key: none is configured."""
    where = f"set {variable}" if variable else "set its api_key"
    return GatewayError(
        502,
        f"The gateway has no API key for this upstream provider ({where}).",
        code="upstream_auth_failed",
    )


def unreachable() -> GatewayError:
    """The upstream could not be reached or dropped the connection before answering."""
    return GatewayError(
        502, "The upstream provider could not be reached.", code="upstream_unreachable"
    )


def timed_out() -> GatewayError:
    """The upstream took longer than its configured timeout."""
    return GatewayError(504, "The upstream provider timed out.", code="upstream_timeout")


def first_byte_timed_out() -> GatewayError:
    """The upstream did not start answering within the deployment's `first_byte_timeout`."""
    return GatewayError(
        504, "The upstream provider did not start answering in time.", code="upstream_timeout"
    )


def idle_timed_out() -> GatewayError:
    """The upstream stream stalled for longer than the deployment's `idle_timeout`."""
    return GatewayError(
        504, "The upstream provider's stream stalled for too long.", code="upstream_timeout"
    )


def malformed() -> GatewayError:
    """The upstream answered with something that is not an OpenAI JSON object."""
    return GatewayError(
        502, "The upstream provider sent a malformed answer.", code="upstream_malformed_answer"
    )


def too_large(limit: int) -> GatewayError:
    """The upstream's answer, or one event of its stream, is larger than the gateway relays."""
    return GatewayError(
        502,
        f"The upstream provider's answer is larger than this gateway relays ({limit} bytes).",
        code="upstream_response_too_large",
    )


def stream_broken() -> GatewayError:
    """The upstream stream ended or broke before its end marker."""
    return GatewayError(
        502,
        "The upstream provider's stream ended before it was complete.",
        code="upstream_stream_interrupted",
    )

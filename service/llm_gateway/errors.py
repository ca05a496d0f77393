"""Errors the caller can act on, in OpenAI's terms, and how each transport reports them.

Every failure that leaves the gateway is a `GatewayError`: the REST facade writes it as
OpenAI's `{"error": {...}}` body with its HTTP status, the typed gRPC service as a status code
from `GRPC_STATUS` with the same fields in the status details. Messages never carry internals
(paths, exception text, upstream credentials).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

# HTTP status → the gRPC code that means the same to a gRPC caller.
GRPC_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

# HTTP status → OpenAI's error `type` when the error has none of its own.
DEFAULT_TYPE: dict[int, str] = {
    401: "invalid_request_error",
    403: "permission_error",
    429: "rate_limit_error",
}


class GatewayError(Exception):
    """A failure reported to the caller with an HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        retry_after: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.headers = headers  # extra response headers, such as `x-ratelimit-*`
        self.status = status
        self.message = message
        self.type = type or DEFAULT_TYPE.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self.param = param
        self.code = code
        self.retry_after = retry_after

    @property
    def grpc_status(self) -> grpc.StatusCode:
        """The gRPC status code of this error."""
        return GRPC_STATUS.get(
            self.status,
            grpc.StatusCode.INTERNAL if self.status >= 500 else grpc.StatusCode.INVALID_ARGUMENT,
        )

    def body(self) -> dict[str, Any]:
        """Returns OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid_request(
    message: str, param: str | None = None, code: str | None = None
) -> GatewayError:
    """A 400 about the request itself, naming the parameter at fault."""
    return GatewayError(400, message, param=param, code=code)


def invalid_api_key() -> GatewayError:
    """A 401 for a missing or unknown key. The key is never echoed."""
    return GatewayError(
        401,
        "Missing or invalid API key. Send it as 'Authorization: Bearer <key>', "
        "'x-api-key: <key>' or 'x-goog-api-key: <key>'.",
        code="invalid_api_key",
    )


def model_not_found(model: str) -> GatewayError:
    """A 404 for a model name the gateway does not serve."""
    return GatewayError(
        404,
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def model_not_allowed(model: str) -> GatewayError:
    """A 403 for a served model that the caller's key may not use."""
    return GatewayError(
        403,
        f"This API key is not allowed to use the model '{model}'.",
        param="model",
        code="model_not_allowed",
    )


def operation_not_served(model: str, operation: str, served: list[str]) -> GatewayError:
    """A 400 for a model asked for an operation it is not configured to serve: refused before
    any upstream is called, whose own error would say less."""
    return GatewayError(
        400,
        f"The model '{model}' does not serve {operation}; it serves: {', '.join(served)}.",
        param="model",
        code="operation_not_supported",
    )


def limits_unavailable() -> GatewayError:
    """A 503 when the store of rate limits or budgets cannot be reached."""
    return GatewayError(
        503,
        "The gateway cannot check its rate limits right now. Try again shortly.",
        code="limits_unavailable",
        retry_after="1",
    )


def keys_unavailable() -> GatewayError:
    """A 503 when a virtual key cannot be looked up because its database is out of reach."""
    return GatewayError(
        503,
        "The gateway cannot check this API key right now. Try again shortly.",
        code="keys_unavailable",
        retry_after="1",
    )


def shutting_down() -> GatewayError:
    """A 503 for a request still running when the gateway's shutdown grace period ends."""
    return GatewayError(
        503,
        "The gateway is shutting down and ended this request. Retry it.",
        code="shutting_down",
        retry_after="1",
    )


def internal_error() -> GatewayError:
    """A 500 for a failure inside the gateway; the details go to the log, not the caller."""
    return GatewayError(500, "The gateway failed to process the request.", code="internal_error")


def error_type(error: BaseException) -> str:
    """The short name of a failure, for logs, metrics and traces: a `GatewayError`'s code."""
    if isinstance(error, GatewayError):
        return error.code or str(error.status)
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return "internal_error"

"""Ends an RPC with a `GatewayError`: a status code and OpenAI's error fields in the details."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from llm_gateway.api.headers import DEPLOYMENT_HEADER
from llm_gateway.errors import GatewayError
from llm_gateway.v1 import common_pb2

DETAILS_KEY = "grpc-status-details-bin"


def status_of(error: GatewayError) -> status_pb2.Status:
    """Returns the `google.rpc.Status` that carries the error's fields."""
    detail = common_pb2.Error(message=error.message, type=error.type, http_status=error.status)
    if error.param is not None:
        detail.param = error.param
    if error.code is not None:
        detail.code = error.code
    packed = any_pb2.Any()
    packed.Pack(detail)
    details = [packed]
    if error.retry_after and error.retry_after.isdigit():
        retry = any_pb2.Any()
        retry.Pack(
            error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=int(error.retry_after))
            )
        )
        details.append(retry)
    return status_pb2.Status(
        code=error.grpc_status.value[0], message=error.message, details=details
    )


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    error: GatewayError,
    request_id: str,
    deployment: str | None = None,
) -> NoReturn:
    """Ends the RPC with the error's status code, message and details, the request id, and the
    deployment that failed (if one was tried)."""
    trailing: tuple[tuple[str, str | bytes], ...] = (
        (DETAILS_KEY, status_of(error).SerializeToString()),
        ("x-request-id", request_id),
    )
    if deployment:
        trailing += ((DEPLOYMENT_HEADER, deployment),)
    trailing += error.headers
    await context.abort(error.grpc_status, error.message, trailing_metadata=trailing)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover

"""What every REST answer shares: content types and the response headers (status, request id,
deployment) that the proxy turns into HTTP headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.headers import DEPLOYMENT_HEADER, DROPPED_HEADER
from llm_gateway.errors import GatewayError

if TYPE_CHECKING:  # the proxy's config uses these bodies, without loading the data plane
    from llm_gateway.dataplane import Decisions, TokenCount

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
# The proxy moves this response header to `:status` (see envoy/envoy.yaml).
STATUS_HEADER = "x-http-status"
# Marks the headers of a stream, which go ahead of its first event. The proxy removes it, and
# holds any other JSON answer whole until its trailing metadata, its headers, arrive: a
# stream of Gemini's JSON array is `application/json` too, and must not be held.
STREAM_HEADER = "x-llm-gateway-stream"
# How a token count was made: `upstream` (by the provider's own counting endpoint) or
# `estimated` (from the request's size, where no provider of the caller's API serves it).
TOKEN_COUNT_HEADER = "x-llm-gateway-token-count"


def json_body(payload: dict[str, Any]) -> HttpBody:
    """One whole `application/json` response."""
    return HttpBody(content_type=JSON, data=orjson.dumps(payload))


def success_headers(decisions: Decisions) -> tuple[tuple[str, str], ...]:
    """The response headers of a generated answer: which deployment served it, the caller's
    remaining rate limits, and the caller's fields a translation left out."""
    headers = _deployment(decisions.deployment) + decisions.rate_limits
    if decisions.dropped:
        headers += ((DROPPED_HEADER, ", ".join(decisions.dropped)),)
    return headers


def stream_headers(decisions: Decisions) -> tuple[tuple[str, str], ...]:
    """The response headers of a stream: a generated answer's, marked as a stream's."""
    return ((STREAM_HEADER, "1"), *success_headers(decisions))


def count_headers(count: TokenCount) -> tuple[tuple[str, str], ...]:
    """The response headers of a token count: how it was made, and by which deployment."""
    how = "estimated" if count.estimated else "upstream"
    return ((TOKEN_COUNT_HEADER, how), *_deployment(count.deployment))


def _deployment(deployment: str | None) -> tuple[tuple[str, str], ...]:
    return ((DEPLOYMENT_HEADER, deployment),) if deployment else ()


def error_headers(
    error: GatewayError, request_id: str, deployment: str | None = None
) -> tuple[tuple[str, str], ...]:
    """The response headers of an error answer (and the deployment that failed, if any)."""
    headers = [(STATUS_HEADER, str(error.status)), ("x-request-id", request_id)]
    if error.retry_after:
        headers.append(("retry-after", error.retry_after))
    return tuple(headers) + _deployment(deployment) + error.headers

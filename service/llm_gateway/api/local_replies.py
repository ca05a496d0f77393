"""Envoy's own replies (an unknown path, a wrong method, a body or headers too large, a body
the transcoder cannot read, the gateway unreachable) in each REST surface's error shape.

They are built from the same dialects that write the gateway's own errors, so that a caller
sees one shape for one failure whichever of the two answered; the sidecar puts them in
Envoy's `local_reply_config` when it renders Envoy's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.gemini.dialect import SSE as GEMINI
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.errors import GatewayError

# The status of the reply, in the bodies of replies that match a range of them.
_STATUS = "%RESPONSE_CODE%"


class _ErrorWriter(Protocol):
    def error(self, error: GatewayError) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Reply:
    """One kind of local reply: the statuses it matches (`status` exactly, all from `status`
    up with `at_least`, or any left when None), and with `flag` only replies that carry that
    response flag of Envoy's; its message and its OpenAI code. A reply for several statuses is
    written as the dialect writes `typical`, with the status it has."""

    status: int | None
    message: str
    code: str | None = None
    at_least: bool = False
    typical: int = 400
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class _Surface:
    """A REST surface: the paths that are its own (None: every other), its dialect, and what
    its unknown-path message says it serves."""

    paths: str | None
    dialect: _ErrorWriter
    serves: str


_SURFACES = (
    _Surface(
        "/v1/messages.*|/llm_gateway[.]v1[.]AnthropicRestService/.*",
        AnthropicDialect(),
        " This gateway serves POST /v1/messages and POST /v1/messages/count_tokens of the "
        "Messages API, and GET /v1/models.",
    ),
    _Surface(
        "/v1beta/.*|/v1/models/[^?]*:[a-zA-Z]+(\\?.*)?|/llm_gateway[.]v1[.]Gemini(Rest|Model)Service/.*",
        GEMINI,
        "",
    ),
    _Surface(None, OpenAIDialect(), " See the README for the supported paths."),
)
_REPLIES = (
    # UO: Envoy holds `limits.max_open_requests` to the gateway already (its circuit breaker).
    _Reply(
        503,
        "The gateway is serving as many requests as it may at once; retry later.",
        "gateway_overloaded",
        flag="UO",
    ),
    _Reply(500, "The gateway is unavailable: %LOCAL_REPLY_BODY%", "gateway_unavailable", True, 503),
    _Reply(404, "Unknown request URL: %REQ(:METHOD)% %PATH(NQ)%.{serves}", "unknown_url"),
    _Reply(405, "Method %REQ(:METHOD)% is not allowed on %PATH(NQ)%.", "method_not_allowed"),
    _Reply(413, "The request body is too large.", "request_too_large"),
    _Reply(431, "The request headers are too large.", "headers_too_large"),
    _Reply(None, "The request could not be read: %LOCAL_REPLY_BODY%"),
)


def _body(surface: _Surface, reply: _Reply) -> dict[str, Any]:
    status = reply.typical if reply.status is None or reply.at_least else reply.status
    message = reply.message.replace("{serves}", surface.serves)
    body: dict[str, Any] = orjson.loads(
        surface.dialect.error(GatewayError(status, message, code=reply.code))
    )
    if reply.status is None or reply.at_least:
        # Written for one status, the body stands for several: it names the one sent.
        body = _with_status(body, status)
    return body


def _with_status(node: Any, status: int) -> Any:
    if isinstance(node, dict):
        return {key: _with_status(value, status) for key, value in node.items()}
    return _STATUS if node == status and not isinstance(node, bool) else node


def _filter(surface: _Surface, reply: _Reply, index: int) -> dict[str, Any] | None:
    filters: list[dict[str, Any]] = []
    if surface.paths is not None:
        path = {"name": ":path", "string_match": {"safe_regex": {"regex": surface.paths}}}
        filters.append({"header_filter": {"header": path}})
    if reply.status is not None:
        comparison = {
            "op": "GE" if reply.at_least else "EQ",
            "value": {"default_value": reply.status, "runtime_key": f"local_reply_{index}"},
        }
        filters.append({"status_code_filter": {"comparison": comparison}})
    if reply.flag is not None:
        filters.append({"response_flag_filter": {"flags": [reply.flag]}})
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else {"and_filter": {"filters": filters}}


def local_reply_config() -> dict[str, Any]:
    """Envoy's `local_reply_config`: a mapper per surface and kind of reply, in the order
    Envoy tries them (each surface's own paths first), and OpenAI's shape for the rest."""
    mappers: list[dict[str, Any]] = []
    default: dict[str, Any] = {}
    for surface in _SURFACES:
        for reply in _REPLIES:
            body = {"json_format": _body(surface, reply)}
            matcher = _filter(surface, reply, len(mappers))
            if matcher is None:
                default = body
            else:
                mappers.append({"filter": matcher, "body_format_override": body})
    return {"mappers": mappers, "body_format": default}

"""Envoy's local replies are written by the dialects that write the gateway's own errors: a
reply for one status is the dialect's error for it, and one that stands for several statuses
names the one Envoy sends (`%RESPONSE_CODE%`) wherever the dialect writes a status."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.gemini.dialect import SSE as GEMINI
from llm_gateway.api.local_replies import local_reply_config
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.errors import GatewayError

GEMINI_PATHS = "Gemini(Rest|Model)Service"
ANTHROPIC_PATHS = "AnthropicRestService"


def _mapper(paths: str | None, status: int, op: str) -> dict[str, Any]:
    for mapper in local_reply_config()["mappers"]:
        text = json.dumps(mapper["filter"])
        on_paths = paths in text if paths else "header_filter" not in text
        wanted = f'"op": "{op}", "value": {{"default_value": {status},'
        if on_paths and wanted in text:
            return mapper["body_format_override"]["json_format"]  # type: ignore[no-any-return]
    raise AssertionError(f"no mapper for {paths} {op} {status}")


@pytest.mark.parametrize(
    ("paths", "dialect"),
    [(GEMINI_PATHS, GEMINI), (ANTHROPIC_PATHS, AnthropicDialect()), (None, OpenAIDialect())],
)
def test_a_reply_for_one_status_is_the_dialects_error(paths: str | None, dialect: Any) -> None:
    body = _mapper(paths, 413, "EQ")
    own = dialect.error(
        GatewayError(413, "The request body is too large.", code="request_too_large")
    )
    assert body == orjson.loads(own)


def test_a_reply_for_many_statuses_names_the_one_sent() -> None:
    assert _mapper(GEMINI_PATHS, 500, "GE")["error"]["code"] == "%RESPONSE_CODE%"
    fallback = next(
        m["body_format_override"]["json_format"]
        for m in local_reply_config()["mappers"]
        if GEMINI_PATHS in json.dumps(m["filter"]) and "status_code_filter" not in json.dumps(m)
    )
    assert fallback["error"]["code"] == "%RESPONSE_CODE%"
    assert fallback["error"]["status"] == "INVALID_ARGUMENT"
    # The OpenAI shape has no status in its body; every other reply is OpenAI's.
    assert local_reply_config()["body_format"]["json_format"]["error"]["code"] is None

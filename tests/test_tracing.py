"""OpenTelemetry tracing: spans reach an OTLP collector with the right links and attributes, and
the trace context travels from the caller through Envoy and the gateway to the upstream."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from llm_gateway.v1 import chat_pb2
from tests.support.grpc_client import METADATA, stub
from tests.support.otlp_collector import OtlpCollector, ReceivedSpan
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

SERVER, CLIENT = 2, 3  # OTLP span kinds
ERROR = 2  # OTLP status code


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpCollector]:
    running = OtlpCollector()
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def traced(
    upstream: ScriptedUpstream,
    collector: OtlpCollector,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export within 0.1 s, not 5 s
        config = stack_config(
            upstream.base_url, tracing={"enabled": True, "otlp_endpoint": collector.endpoint}
        )
        running = start_stack(Path(tmp_path_factory.mktemp("traced")), config)
    yield running
    running.stop()


def _context() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _chat(stack: Stack, model: str, traceparent: str | None, **fields: object) -> requests.Response:
    headers = {"authorization": f"Bearer {KEY}"}
    if traceparent is not None:
        headers["traceparent"] = traceparent
    return requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        headers=headers,
        json={"model": model, "messages": [{"role": "user", "content": "one two three"}], **fields},
        timeout=20,
    )


def _only(spans: list[ReceivedSpan], **wanted: object) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, spans)
    return found[0]


def test_rest_request_joins_the_callers_trace_through_envoy_to_the_upstream(
    traced: Stack, collector: OtlpCollector, upstream: ScriptedUpstream
) -> None:
    trace_id, caller_span, traceparent = _context()
    response = _chat(traced, "gpt-echo", traceparent, max_completion_tokens=50, temperature=0.5)
    assert response.status_code == 200
    usage = response.json()["usage"]

    spans = collector.wait_for(3, trace_id)
    envoy = _only(spans, service="llm-gateway-envoy")
    server = _only(spans, service="llm-gateway", kind=SERVER)
    attempt = _only(spans, service="llm-gateway", kind=CLIENT)
    assert envoy.parent_span_id == caller_span
    assert server.parent_span_id == envoy.span_id
    assert attempt.parent_span_id == server.span_id
    assert server.name == "chat gpt-echo"
    assert server.attributes["gen_ai.operation.name"] == "chat"
    assert server.attributes["gen_ai.request.model"] == "gpt-echo"
    assert server.attributes["gen_ai.provider.name"] == "openai"
    assert server.attributes["gen_ai.response.model"] == "echo"
    assert server.attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert server.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert server.attributes["llm_gateway.transport"] == "rest"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["gen_ai.request.max_tokens"] == 50
    assert server.attributes["gen_ai.request.temperature"] == 0.5
    assert attempt.name == "chat echo"
    assert attempt.attributes["llm_gateway.deployment"] == "scripted/echo"
    # No prompt, answer or key in any attribute.
    flat = json.dumps([s.attributes for s in spans])
    assert "one two three" not in flat and KEY not in flat

    seen = upstream.find(response.headers["x-request-id"])
    assert seen is not None
    assert seen.headers["traceparent"] == f"00-{trace_id}-{attempt.span_id}-01"


def test_grpc_request_continues_the_trace_in_its_metadata(
    traced: Stack, collector: OtlpCollector
) -> None:
    trace_id, caller_span, traceparent = _context()
    channel, client = stub(traced.grpc_target)
    with channel:
        client.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(
                model="gpt-echo",
                messages=[chat_pb2.ChatMessage(role="user", text="hi")],
            ),
            metadata=(*METADATA, ("traceparent", traceparent)),
            timeout=20,
        )
    spans = collector.wait_for(2, trace_id)
    server = _only(spans, kind=SERVER)
    assert server.parent_span_id == caller_span
    assert server.attributes["llm_gateway.transport"] == "grpc"
    assert _only(spans, kind=CLIENT).parent_span_id == server.span_id


def test_each_upstream_attempt_is_a_child_span_and_sends_its_own_context(
    traced: Stack, collector: OtlpCollector, upstream: ScriptedUpstream
) -> None:
    trace_id, _, traceparent = _context()
    upstream.clear()
    response = _chat(traced, "gpt-falls-back", traceparent)
    assert response.status_code == 200

    spans = collector.wait_for(5, trace_id)
    server = _only(spans, service="llm-gateway", kind=SERVER)
    attempts = [s for s in spans if s.kind == CLIENT and s.service == "llm-gateway"]
    assert [s.parent_span_id for s in attempts] == [server.span_id] * 3
    failed = [s for s in attempts if s.status_code == ERROR]
    assert len(failed) == 2
    assert {s.attributes["error.type"] for s in failed} == {"upstream_unavailable"}
    assert server.attributes["llm_gateway.attempts"] == 3
    assert server.status_code != ERROR
    sent = {r.headers["traceparent"] for r in upstream.requests}
    assert sent == {f"00-{trace_id}-{s.span_id}-01" for s in attempts}


def test_a_failed_request_marks_its_span_with_the_error(
    traced: Stack, collector: OtlpCollector
) -> None:
    trace_id, _, traceparent = _context()
    response = _chat(traced, "gpt-bad-request", traceparent)
    assert response.status_code == 400
    server = _only(collector.wait_for(3, trace_id), service="llm-gateway", kind=SERVER)
    assert server.status_code == ERROR
    assert server.attributes["http.response.status_code"] == 400
    assert server.attributes["error.type"] == response.json()["error"]["code"]


def test_a_request_without_context_starts_a_trace_named_in_its_log_line(
    traced: Stack, collector: OtlpCollector
) -> None:
    response = _chat(traced, "gpt-echo", None)
    request_id = response.headers["x-request-id"]
    line = _log_line(traced, request_id)
    spans = collector.wait_for(3, line["trace_id"])
    assert (
        _only(spans, service="llm-gateway", kind=SERVER).parent_span_id
        == _only(spans, service="llm-gateway-envoy").span_id
    )


def test_without_tracing_the_callers_context_is_forwarded_and_logged(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    trace_id, _, traceparent = _context()
    response = _chat(stack, "gpt-echo", traceparent)
    seen = upstream.find(response.headers["x-request-id"])
    assert seen is not None and seen.headers["traceparent"] == traceparent
    assert _log_line(stack, response.headers["x-request-id"])["trace_id"] == trace_id


def test_a_malformed_traceparent_is_neither_forwarded_nor_logged(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    response = _chat(stack, "gpt-echo", "00-not-a-trace-01")
    seen = upstream.find(response.headers["x-request-id"])
    assert seen is not None and "traceparent" not in seen.headers
    assert "trace_id" not in _log_line(stack, response.headers["x-request-id"])


def _log_line(stack: Stack, request_id: str) -> dict[str, object]:
    for line in stack.log_lines():
        if request_id in line and '"event":"request"' in line:
            found: dict[str, object] = json.loads(line)
            return found
    raise AssertionError(f"no log line for {request_id}")

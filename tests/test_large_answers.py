"""Upstream answers larger than a request may be: served whole up to `max_response_bytes`
(past gRPC's default message limits), and past it a 502 in the caller's shape, logged as such,
never a gRPC status in a REST body nor a stream cut short without an error frame."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from llm_gateway.config.settings import GatewaySettings
from llm_gateway.providers.sse import EventTooLarge, SseDecoder
from llm_gateway.sidecar.envoy import render_envoy_config
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

MB = 1024 * 1024
CAP = 16 * MB


@pytest.fixture(scope="module")
def capped(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = stack_config(upstream.base_url)
    config["limits"]["max_response_bytes"] = CAP
    stack = start_stack(tmp_path_factory.mktemp("capped"), config)
    yield stack
    stack.stop()


def chat(stack: Stack, model: str, size: int, stream: bool) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        json={
            "model": model,
            "messages": [{"role": "user", "content": "big"}],
            "max_tokens": size,
            "stream": stream,
        },
        headers={"authorization": f"Bearer {KEY}", "x-request-id": f"{model}-{size}-{stream}"},
        timeout=60,
    )


def stream_frames(answer: requests.Response) -> list[str]:
    return [line[6:] for line in answer.text.split("\n\n") if line.startswith("data: ")]


def logged_status(stack: Stack, request_id: str) -> int:
    for line in stack.log_lines():
        if request_id in line and '"event": "request"' in line.replace('":"', '": "'):
            return int(json.loads(line)["status"])
    raise AssertionError(f"no log line for {request_id}")


def test_answers_past_grpc_default_limits_are_served_whole(capped: Stack) -> None:
    answer = chat(capped, "gpt-large", 12 * MB, stream=False)
    assert answer.status_code == 200
    assert len(answer.json()["choices"][0]["message"]["content"]) == 12 * MB
    streamed = chat(capped, "claude-large", 9 * MB, stream=True)  # one 9 MB Anthropic event
    frames = stream_frames(streamed)
    assert frames[-1] == "[DONE]"
    text = "".join(
        json.loads(f)["choices"][0]["delta"].get("content") or ""
        for f in frames[:-1]
        if json.loads(f).get("choices")
    )
    assert len(text) == 9 * MB


def test_answers_past_the_cap_are_a_502_in_the_callers_shape(capped: Stack) -> None:
    answer = chat(capped, "gpt-large", 20 * MB, stream=False)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_response_too_large"
    assert logged_status(capped, f"gpt-large-{20 * MB}-False") == 502
    for model in ("gpt-large", "claude-large"):
        streamed = chat(capped, model, 20 * MB, stream=True)
        if streamed.status_code == 200:  # the event was too large after the stream started
            frames = stream_frames(streamed)
            assert frames[-1] == "[DONE]"
            assert json.loads(frames[-2])["error"]["code"] == "upstream_response_too_large"
        else:
            assert streamed.status_code == 502
            assert streamed.json()["error"]["code"] == "upstream_response_too_large"
        assert logged_status(capped, f"{model}-{20 * MB}-True") == 502
    anthropic = requests.post(
        f"{capped.rest_url}/v1/messages",
        json={
            "model": "gpt-large",
            "max_tokens": 20 * MB,
            "messages": [{"role": "user", "content": "big"}],
        },
        headers={"x-api-key": KEY},
        timeout=60,
    )
    assert anthropic.status_code == 502
    assert anthropic.json()["type"] == "error"


def test_sse_decoder_refuses_an_event_past_its_limit_before_holding_it() -> None:
    decoder = SseDecoder(max_event_bytes=100)
    assert decoder.feed(b"data: " + b"x" * 90 + b"\n\n") == [b"x" * 90]
    decoder.feed(b"data: " + b"y" * 60 + b"\n")
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: " + b"y" * 60 + b"\n")  # one event of two lines: 120 bytes
    endless = SseDecoder(max_event_bytes=100)
    with pytest.raises(EventTooLarge):
        for _ in range(10):
            endless.feed(b"z" * 20)  # a line that never ends


def test_envoy_and_grpc_limits_follow_max_response_bytes() -> None:
    config = stack_config("http://127.0.0.1:9/v1")
    config["limits"]["max_response_bytes"] = 2 * MB
    settings = GatewaySettings.model_validate(config)
    rendered = render_envoy_config(settings)
    listener = next(
        item
        for item in rendered["static_resources"]["listeners"]
        if item["name"] == "rest_and_grpc"
    )
    filters = listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    (transcoder,) = [f for f in filters if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    assert transcoder["typed_config"]["max_response_body_size"] == 4 * MB + 64 * 1024
    assert settings.limits.largest_answer_message == 4 * MB + 64 * 1024

"""The REST surface byte for byte, with plain HTTP (`requests`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

AUTH = {"authorization": f"Bearer {KEY}"}
CHAT = {"model": "gpt-echo", "messages": [{"role": "user", "content": "one two"}]}


def post(
    stack: Stack, path: str, body: object, headers: dict[str, str] | None = None, **kwargs: object
) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}{path}",
        data=json.dumps(body),
        headers={**AUTH, "content-type": "application/json", **(headers or {})},
        timeout=20,
        **kwargs,
    )  # type: ignore[arg-type]


def assert_openai_error(response: requests.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def test_json_integers_and_nulls(stack: Stack) -> None:
    response = post(stack, "/v1/chat/completions", CHAT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    raw = response.text
    assert re.search(r'"created": ?1700000000[,}]', raw)  # a JSON integer, not a string
    body = response.json()
    assert body["choices"][0]["logprobs"] is None
    assert body["choices"][0]["message"]["refusal"] is None
    assert "grpc-accept-encoding" not in response.headers


def test_sse_framing_bytes(stack: Stack) -> None:
    response = post(stack, "/v1/chat/completions", {**CHAT, "stream": True}, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    raw = b"".join(response.iter_content(chunk_size=None))
    frames = raw.split(b"\n\n")
    assert frames[-1] == b"" and frames[-2] == b"data: [DONE]"
    for frame in frames[:-2]:
        assert frame.startswith(b"data: {") and b"\n" not in frame
        assert json.loads(frame[6:])["object"] == "chat.completion.chunk"
    assert raw.count(b"data: [DONE]") == 1


def test_a_stream_asked_for_with_an_escaped_key_is_served_whole(stack: Stack) -> None:
    # The proxy does not decode escapes: it sends this body to the unary twin of the RPC,
    # which must still answer with every frame of the stream.
    body = json.dumps(CHAT)[:-1] + ', "\\u0073tream": true}'
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        data=body,
        headers={**AUTH, "content-type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    frames = response.content.split(b"\n\n")
    assert frames[-2:] == [b"data: [DONE]", b""]
    text = "".join(
        json.loads(frame[6:])["choices"][0]["delta"].get("content") or "" for frame in frames[:-2]
    )
    assert (
        text == post(stack, "/v1/chat/completions", CHAT).json()["choices"][0]["message"]["content"]
    )


def test_midstream_failure_frame(stack: Stack) -> None:
    # Repeated: the chunks that arrived before the break must all be relayed, every time.
    for _ in range(10):
        response = post(
            stack,
            "/v1/chat/completions",
            {**CHAT, "model": "gpt-fail-midstream", "stream": True},
            stream=True,
        )
        assert response.status_code == 200
        frames = b"".join(response.iter_content(chunk_size=None)).split(b"\n\n")
        assert frames[-2] == b"data: [DONE]"
        error = json.loads(frames[-3][6:])
        assert error["error"]["code"] == "upstream_stream_interrupted"
        assert set(error["error"]) == {"message", "type", "param", "code"}
        assert len(frames) == 2 + 1 + 2  # two chunks, the error frame, [DONE], the trailing ""


def test_in_stream_upstream_error_frame(stack: Stack) -> None:
    response = post(
        stack,
        "/v1/chat/completions",
        {**CHAT, "model": "gpt-error-in-stream", "stream": True},
        stream=True,
    )
    frames = b"".join(response.iter_content(chunk_size=None)).split(b"\n\n")
    assert json.loads(frames[-3][6:])["error"]["type"] == "server_error"
    assert frames[-2] == b"data: [DONE]"


def test_request_id_is_echoed_or_made(stack: Stack, upstream: ScriptedUpstream) -> None:
    given = post(stack, "/v1/chat/completions", CHAT, {"x-request-id": "req-abc-123"})
    assert given.headers["x-request-id"] == "req-abc-123"
    assert upstream.last().headers["x-request-id"] == "req-abc-123"
    made = post(stack, "/v1/chat/completions", CHAT)
    assert len(made.headers["x-request-id"]) >= 16
    failed = post(stack, "/v1/chat/completions", {"model": "x"}, {"x-request-id": "req-err"})
    assert failed.headers["x-request-id"] == "req-err"
    unknown_path = requests.get(
        f"{stack.rest_url}/v2/nothing", timeout=5, headers={"x-request-id": "req-404"}
    )
    assert unknown_path.headers["x-request-id"] == "req-404"


@pytest.mark.parametrize("header", ["authorization", "x-api-key", "x-goog-api-key"])
def test_key_headers(stack: Stack, header: str) -> None:
    value = f"Bearer {KEY}" if header == "authorization" else KEY
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions", json=CHAT, headers={header: value}, timeout=10
    )
    assert response.status_code == 200


def test_missing_key_is_401(stack: Stack) -> None:
    response = requests.post(f"{stack.rest_url}/v1/chat/completions", json=CHAT, timeout=10)
    assert assert_openai_error(response, 401)["code"] == "invalid_api_key"


def test_malformed_json_is_400(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions", data=b'{"model": ', headers=AUTH, timeout=10
    )
    assert assert_openai_error(response, 400)["code"] == "invalid_json"
    not_object = requests.post(
        f"{stack.rest_url}/v1/completions", data=b"[1]", headers=AUTH, timeout=10
    )
    assert_openai_error(not_object, 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {
                "model": "gpt-echo",
                "messages": [{"role": "user", "content": "x"}],
                "temperature": "hot",
            },
            "temperature",
        ),
        (
            {"model": "gpt-echo", "messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
        ),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (
            {"model": "gpt-echo", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        (
            {
                "model": "gpt-echo",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function"}],
            },
            "tools[0]",
        ),
    ],
)
def test_wrong_types_name_the_param(stack: Stack, body: dict[str, object], param: str) -> None:
    error = assert_openai_error(post(stack, "/v1/chat/completions", body), 400)
    assert error["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-echo"}, "prompt"),
        ({"model": "gpt-echo", "prompt": "x", "logprobs": 9}, "logprobs"),
        ({"model": "gpt-echo", "prompt": [1, "a"]}, "prompt"),
        (
            {"model": "gpt-echo", "messages": [{"role": "user", "content": "x"}], "echo": True},
            "echo",
        ),
        (
            {"model": "gpt-echo", "prompt": "x", "messages": [{"role": "user", "content": "x"}]},
            "messages",
        ),
    ],
)
def test_invalid_completion_requests(stack: Stack, body: dict[str, object], param: str) -> None:
    error = assert_openai_error(post(stack, "/v1/completions", body), 400)
    assert error["param"] == param


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/chat/completions"),
        ("PUT", "/v1/completions"),
        ("POST", "/v1/models"),
        ("DELETE", "/v1/models/gpt-echo"),
    ],
)
def test_other_methods_are_405(stack: Stack, method: str, path: str) -> None:
    response = requests.request(method, f"{stack.rest_url}{path}", headers=AUTH, timeout=5)
    assert assert_openai_error(response, 405)["code"] == "method_not_allowed"


def test_unknown_path_is_404(stack: Stack) -> None:
    response = requests.get(f"{stack.rest_url}/v1/engines", headers=AUTH, timeout=5)
    assert assert_openai_error(response, 404)["code"] == "unknown_url"


def test_body_too_large_is_413(stack: Stack, upstream: ScriptedUpstream) -> None:
    upstream.clear()
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * (1024 * 1024 + 10)}]}
    response = post(stack, "/v1/chat/completions", big)
    assert assert_openai_error(response, 413)["code"] == "request_too_large"
    assert upstream.requests == []


def test_headers_too_large_is_431(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        json=CHAT,
        timeout=5,
        headers={**AUTH, "x-big": "y" * (64 * 1024)},
    )
    assert assert_openai_error(response, 431)["code"] == "headers_too_large"


@pytest.mark.parametrize("kb", [7, 9, 12, 16, 30, 45, 58])
def test_headers_envoy_admits_are_served(stack: Stack, kb: int) -> None:
    """Envoy admits 60 KB of headers; the gateway behind it must serve them all (its gRPC
    server refused over 8 KB, at random between 8 and 16 KB, with a gRPC body)."""
    for _ in range(3):
        response = requests.post(
            f"{stack.rest_url}/v1/chat/completions",
            json=CHAT,
            timeout=5,
            headers={**AUTH, "x-big": "y" * (kb * 1024)},
        )
        assert response.status_code == 200, response.text
        assert response.json()["object"] == "chat.completion"


def test_upstream_429_forwards_retry_after(stack: Stack) -> None:
    response = post(stack, "/v1/chat/completions", {**CHAT, "model": "gpt-rate-limited"})
    assert assert_openai_error(response, 429)["code"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "7"


@pytest.fixture(scope="module")
def rejecting_stack(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = stack_config(upstream.base_url, unknown_fields="reject")
    running = start_stack(Path(tmp_path_factory.mktemp("rejecting")), config)
    yield running
    running.stop()


def test_unknown_fields_rejected_when_configured(rejecting_stack: Stack) -> None:
    response = post(rejecting_stack, "/v1/chat/completions", {**CHAT, "top_k": 3})
    error = assert_openai_error(response, 400)
    assert error["param"] == "top_k" and error["code"] == "unknown_parameter"
    assert post(rejecting_stack, "/v1/chat/completions", CHAT).status_code == 200

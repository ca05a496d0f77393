"""Inputs a hostile caller sends: deep nesting, bytes that are not UTF-8 in a URL, keys in
query strings. Each is a 4xx in the surface's own error shape; none is a 500, none shows the
gateway's internals, and no error body repeats a key."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from google import genai
from google.genai import types

from llm_gateway.providers.upstream_errors import error_from_upstream
from llm_gateway.providers.upstream_messages import scrub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

AUTH = {"authorization": f"Bearer {KEY}"}
MESSAGES = '[{"role": "user", "content": "hi"}]'


def nested(depth: int) -> str:
    """JSON text of a value `depth` lists deep (too deep for the JSON encoders to write)."""
    return "[" * depth + '"x"' + "]" * depth


def post(url: str, body: str, headers: dict[str, str]) -> requests.Response:
    headers = {**headers, "content-type": "application/json"}
    return requests.post(url, data=body.encode(), headers=headers, timeout=10)


def openai_error(response: requests.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


def anthropic_error(response: requests.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    return body["error"]  # type: ignore[no-any-return]


def gemini_error(response: requests.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and isinstance(error["status"], str)
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("depth", [254, 300, 1000])
def test_deeply_nested_extension_fields_are_a_400_on_every_surface(
    stack: Stack, depth: int
) -> None:
    url = stack.rest_url
    openai = post(
        f"{url}/v1/chat/completions",
        f'{{"model": "gpt-echo", "messages": {MESSAGES}, "vendor_extension": {nested(depth)}}}',
        AUTH,
    )
    error = openai_error(openai, 400)
    assert error["param"] == "vendor_extension" and error["code"] == "nesting_too_deep"
    anthropic = post(
        f"{url}/v1/messages",
        f'{{"model": "gpt-echo", "max_tokens": 5, "messages": {MESSAGES}, '
        f'"extra": {nested(depth)}}}',
        {"x-api-key": KEY},
    )
    assert "extra" in str(anthropic_error(anthropic, 400)["message"])
    gemini = post(
        f"{url}/v1beta/models/gpt-echo:generateContent",
        f'{{"contents": [{{"parts": [{{"text": "hi"}}]}}], "safetySettings": {nested(depth)}}}',
        {"x-goog-api-key": KEY},
    )
    assert "safetySettings" in str(gemini_error(gemini, 400)["message"])


def test_nesting_within_the_limit_is_served(stack: Stack) -> None:
    answer = post(
        f"{stack.rest_url}/v1/chat/completions",
        f'{{"model": "gpt-echo", "messages": {MESSAGES}, "vendor_extension": {nested(100)}}}',
        AUTH,
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        ("GET", "/v1/models/%ff", "openai"),
        ("GET", "/v1/models/ok%C3%28", "openai"),
        ("POST", "/v1beta/models/%ff:generateContent", "gemini"),
        ("POST", "/v1beta/models/gpt-echo:generateContent?key=%fe", "gemini"),
        ("GET", "/admin/v1/keys/%ff", "openai"),
    ],
)
def test_urls_that_are_not_utf8_are_a_400(stack: Stack, method: str, path: str, shape: str) -> None:
    response = requests.request(
        method,
        f"{stack.rest_url}{path}",
        headers=AUTH,
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        timeout=10,
    )
    error = gemini_error(response, 400) if shape == "gemini" else openai_error(response, 400)
    assert "UTF-8" in str(error["message"])
    assert "protobuf" not in response.text and "DecodeError" not in response.text


def test_a_url_in_utf8_still_reaches_the_gateway(stack: Stack) -> None:
    response = requests.get(f"{stack.rest_url}/v1/models/caf%C3%A9", headers=AUTH, timeout=10)
    assert openai_error(response, 404)["code"] == "model_not_found"


@pytest.mark.parametrize(
    "path", ["/v1beta/models?key={key}", "/v1/nowhere?key={key}", "/v1beta/other?key={key}&x=1"]
)
def test_no_error_body_repeats_a_query_string_key(stack: Stack, path: str) -> None:
    secret = "sk-query-secret-0123456789"
    for method in ("GET", "DELETE", "PUT"):
        response = requests.request(
            method, f"{stack.rest_url}{path.format(key=secret)}", timeout=10
        )
        assert response.status_code in (400, 401, 404, 405), response.text
        assert secret not in response.text
        assert "key=" not in response.text


LEAKS = ("/srv", "10.2.3.4", "http://", "sk-live", "Traceback", "server.py", "config.yaml")


def test_upstream_refusals_keep_their_reason_but_no_internals(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        json={"model": "gpt-leaky", "messages": [{"role": "user", "content": "hi"}]},
        headers=AUTH,
        timeout=10,
    )
    error = openai_error(response, 400)
    assert str(error["message"]).startswith("Invalid 'temperature': expected at most 2")
    assert (error["param"], error["code"]) == ("temperature", "invalid_value")
    for leak in LEAKS:
        assert leak not in response.text, leak


def test_upstream_messages_can_be_hidden(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    config = stack_config(upstream.base_url)
    config["providers"]["scripted"]["upstream_messages"] = "hidden"
    hidden = start_stack(tmp_path, config)
    try:
        response = requests.post(
            f"{hidden.rest_url}/v1/chat/completions",
            json={"model": "gpt-leaky", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
            timeout=10,
        )
    finally:
        hidden.stop()
    error = openai_error(response, 400)
    assert error["message"] == "The upstream provider refused the request (400)."
    assert (error["param"], error["code"]) == ("temperature", "invalid_value")


@pytest.mark.parametrize(
    ("message", "kept", "gone"),
    [
        ("'messages' is too long", "'messages' is too long", ""),
        (
            "Incorrect API key provided: sk-up***1234. See https://platform.example.com/keys.",
            "Incorrect API key provided:",
            "sk-up",
        ),
        ("connect to vllm-0.inference.svc.cluster.local:8000 failed", "connect to", "vllm-0"),
        ("token a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6 expired", "expired", "a1b2c3"),
        ("bad key=AIzaSyD-abcdefghijklmnopqrstuv1234", "bad", "AIza"),
        ("The model claude-3-5-sonnet-20241022 does not exist", "claude-3-5-sonnet-20241022", ""),
        ("read C:\\models\\weights\\llama.bin failed", "failed", "weights"),
        ("x" * 5000, "xxx", ""),
    ],
)
def test_scrub_keeps_reasons_and_drops_internals(message: str, kept: str, gone: str) -> None:
    scrubbed = scrub(message)
    assert kept in scrubbed and len(scrubbed) <= 500
    if gone:
        assert gone not in scrubbed


def test_an_error_that_is_all_internals_gets_the_gateways_words() -> None:
    payload = b'{"error": {"message": "Traceback (most recent call last):\\n  File \\"/a/b.py\\""}}'
    error = error_from_upstream(422, payload, None)
    assert (
        error.status == 400 and error.message == "The upstream provider refused the request (422)."
    )
    leaky_code = b'{"error": {"message": "no", "code": "/srv/app/errors.py:12", "param": "x"}}'
    assert error_from_upstream(400, leaky_code, None).code is None


def test_model_names_in_paths_are_decoded_once(stack: Stack) -> None:
    """`%252F` is a caller's `%2F`, not a slash; `%2F` is a slash (as the SDKs send it)."""
    gemini = "/v1beta/models/{}:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    headers = {"x-goog-api-key": KEY}
    once = requests.post(
        stack.rest_url + gemini.format("org%2Fmodel-with-slash"), json=body, headers=headers
    )
    assert once.status_code == 200, once.text
    twice = requests.post(
        stack.rest_url + gemini.format("org%252Fmodel-with-slash"), json=body, headers=headers
    )
    assert "org%2Fmodel-with-slash" in str(gemini_error(twice, 404)["message"])
    model = requests.get(f"{stack.rest_url}/v1/models/org%252Fmodel-with-slash", headers=AUTH)
    assert openai_error(model, 404)["code"] == "model_not_found"
    served = requests.get(f"{stack.rest_url}/v1/models/org%2Fmodel-with-slash", headers=AUTH)
    assert served.json()["id"] == "org/model-with-slash"


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/chat/completions", "openai"),
        ("/v1/messages", "anthropic"),
        ("/v1beta/models/gpt-echo:generateContent", "gemini"),
        ("/v1/completions", "openai"),
    ],
)
def test_grpc_content_type_on_a_rest_path_is_a_415(stack: Stack, path: str, shape: str) -> None:
    for content_type in ("application/grpc", "application/grpc+proto"):
        response = requests.post(
            f"{stack.rest_url}{path}",
            data=b"\x00\x00\x00\x00\x02{}",
            headers={**AUTH, "content-type": content_type},
            timeout=10,
        )
        check = {"openai": openai_error, "anthropic": anthropic_error, "gemini": gemini_error}
        assert "not gRPC" in str(check[shape](response, 415)["message"])


@pytest.mark.parametrize("path", ["/v1/messages/batches", "/v1/messages/batches/b1/cancel"])
def test_unknown_anthropic_paths_say_so_in_anthropics_shape(stack: Stack, path: str) -> None:
    response = requests.post(
        f"{stack.rest_url}{path}", json={"model": "gpt-echo"}, headers={"x-api-key": KEY}
    )
    error = anthropic_error(response, 404)
    assert error["type"] == "not_found_error"
    assert f"Unknown request URL: POST {path}." in str(error["message"])


def test_the_gemini_sdk_works_without_choosing_an_api_version(stack: Stack) -> None:
    """google-genai calls the Gemini API's stable `/v1/models/...` unless told `v1beta`."""
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=stack.rest_url))
    assert client.models.generate_content(model="gpt-echo", contents="hello there").text == (
        "hello there"
    )
    streamed = client.models.generate_content_stream(model="gpt-echo", contents="one two")
    assert "".join(chunk.text or "" for chunk in streamed) == "one two"
    wrong = requests.put(
        f"{stack.rest_url}/v1/models/gpt-echo:generateContent", headers={"x-goog-api-key": KEY}
    )
    assert gemini_error(wrong, 405)["status"] == "INVALID_ARGUMENT"

"""`llm-gateway up` and its Envoy: readiness proves that this Envoy serves this gateway, a
taken port is a start-up error naming it, Envoy's death stops `up` with a failure status, and
several stacks on one machine never touch each other's Envoy."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import grpc
import pytest
import requests
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, free_port, run_once, stack_config, start_stack

AUTH = {"authorization": f"Bearer {KEY}"}


def envoy_of(stack: Stack) -> int:
    """The pid of the Envoy that a stack's `up` started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == stack.process.pid and name == "envoy":
            return int(entry.name)
    raise AssertionError("no Envoy child found")


def models(stack: Stack) -> int:
    return requests.get(f"{stack.rest_url}/v1/models", headers=AUTH, timeout=5).status_code


def test_healthz_names_the_gateway_and_reflection_v1_is_served(stack: Stack) -> None:
    answer = requests.get(f"{stack.rest_url}/healthz", timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "serving" and len(body["instance"]) == 32
    with grpc.insecure_channel(stack.grpc_target) as channel:
        for version in ("v1", "v1alpha"):
            info = channel.stream_stream(
                f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            (reply,) = list(info(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
            names = {s.name for s in reply.list_services_response.service}
            assert "llm_gateway.v1.LlmGatewayService" in names
            assert "grpc.reflection.v1.ServerReflection" in names


def test_two_stacks_never_touch_each_others_envoy(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    first = start_stack(tmp_path / "one", stack_config(upstream.base_url))
    try:
        second = start_stack(tmp_path / "two", stack_config(upstream.base_url))
        assert models(second) == 200
        assert second.stop() == 0  # drains its own Envoy only
        for _ in range(10):
            assert models(first) == 200
            time.sleep(0.1)
    finally:
        first.stop()


@pytest.mark.parametrize("setting", ["rest", "envoy_admin", "envoy_metrics"])
def test_a_taken_port_is_a_start_up_error_naming_it(
    upstream: ScriptedUpstream, tmp_path: Path, setting: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        config = stack_config(upstream.base_url)
        config["listen"][setting] = taken
        result = run_once(tmp_path, config, "up")
    assert result.returncode == 2
    assert f"cannot listen on {taken} (listen.{setting})" in result.stderr


def test_envoys_death_stops_up_with_a_failure(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    stack = start_stack(tmp_path, stack_config(upstream.base_url))
    try:
        # REST answers a moment before `up` has checked its Envoy and said it is ready (an
        # Envoy dying before that is a start-up failure, status 2).
        deadline = time.monotonic() + 10
        while "ready: REST" not in stack.log_path.read_text():
            assert time.monotonic() < deadline, "up never said it was ready"
            time.sleep(0.05)
        os.kill(envoy_of(stack), signal.SIGKILL)
        status = stack.process.wait(timeout=15)
    finally:
        stack.stop()
    assert status == 1
    assert "Envoy exited with status" in stack.log_path.read_text()


def test_ready_only_when_envoy_reaches_this_gateway(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    """An Envoy that reaches another gateway (here: the one of a stack already running) is
    not this stack's: `up` refuses to report ready and fails."""
    other = start_stack(tmp_path / "other", stack_config(upstream.base_url))
    try:
        config = stack_config(upstream.base_url)
        config["listen"]["gateway_upstream"] = other.config["listen"]["grpc"]
        result = run_once(tmp_path / "astray", config, "up")
    finally:
        other.stop()
    assert result.returncode == 2, result.stderr
    assert "does not reach this gateway" in result.stderr


def test_admin_on_tcp_still_works(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    config = stack_config(upstream.base_url)
    config["listen"]["envoy_admin"] = f"127.0.0.1:{free_port()}"
    stack = start_stack(tmp_path, config)
    try:
        assert models(stack) == 200
        metrics = requests.get(stack.envoy_metrics_url, timeout=5)
        assert metrics.status_code == 200 and "envoy_" in metrics.text
    finally:
        assert stack.stop() == 0


def test_a_newcomer_without_keys_is_told_what_to_set(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    """No key for a remote provider: a warning at start names the variable and the models
    (a local server needs none: no warning); an upstream refusal of a keyless request names
    the provider and the variable to set, never a key or a URL."""
    config = stack_config(upstream.base_url)
    config["providers"]["remote"] = {
        "type": "openai",
        "base_url": "https://api.example.invalid/v1",  # never called
        "api_key": "${NEWCOMER_TEST_REMOTE_KEY:-}",
    }
    config["providers"]["keyless"] = {
        "type": "openai",
        "base_url": upstream.base_url,
        "api_key": "${NEWCOMER_TEST_LOCAL_KEY:-}",
    }
    config["models"]["gpt-remote"] = {"provider": "remote", "model": "echo"}
    config["models"]["gpt-keyless"] = {"provider": "keyless", "model": "unauthorized"}
    stack = start_stack(tmp_path, config)
    try:
        log = stack.log_path.read_text()
        answer = requests.post(
            f"{stack.rest_url}/v1/chat/completions",
            json={"model": "gpt-keyless", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
            timeout=10,
        )
    finally:
        stack.stop()
    assert "provider 'remote' has no API key (set NEWCOMER_TEST_REMOTE_KEY)" in log
    assert "gpt-remote will fail upstream" in log
    assert "provider 'keyless' has no API key" not in log  # on this machine: may need none
    assert "provider 'scripted' has no API key" not in log  # it has one
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_auth_failed"
    assert "set NEWCOMER_TEST_LOCAL_KEY" in error["message"]
    assert "(provider keyless)" in error["message"]
    assert upstream.base_url not in answer.text

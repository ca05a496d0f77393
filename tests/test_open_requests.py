"""`limits.max_open_requests` bounds what the gateway holds open at once, for REST callers (Envoy's
circuit breaker to the gateway: more are a 503 in the surface's error shape) and for direct
gRPC callers (the calls gRPC holds while the event loop is busy: more are cancelled). Bounded:
two held streams and two bursts of health checks on loopback."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
import requests
import yaml
from grpc_health.v1 import health_pb2

from llm_gateway.config.loader import parse_config
from llm_gateway.server import start_server
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, free_port, stack_config, start_stack

HEADERS = {"authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def narrow(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = stack_config(upstream.base_url)
    config["limits"]["max_open_requests"] = 2
    stack = start_stack(tmp_path_factory.mktemp("narrow"), config)
    yield stack
    stack.stop()


def test_past_the_open_requests_envoy_answers_503_in_the_surfaces_shape(narrow: Stack) -> None:
    url = f"{narrow.rest_url}/v1/chat/completions"
    slow = {"model": "gpt-slow", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    # A session each: `requests.post` closes its own session, and with it the stream.
    sessions = [requests.Session() for _ in "ab"]
    held = [s.post(url, json=slow, headers=HEADERS, stream=True, timeout=30) for s in sessions]
    try:
        # Each stream's lines are kept: a dropped line iterator closes its connection.
        lines = [response.iter_lines() for response in held]
        assert [response.status_code for response in held] == [200, 200]
        assert all(next(each).startswith(b"data: ") for each in lines)  # open at the gateway
        body = {"model": "gpt-echo", "messages": [{"role": "user", "content": "hi"}]}
        refused = requests.post(url, json=body, headers=HEADERS, timeout=10)
        assert refused.status_code == 503
        assert refused.json()["error"] == {
            "message": "The gateway is serving as many requests as it may at once; retry later.",
            "type": "server_error",
            "param": None,
            "code": "gateway_overloaded",
        }
    finally:
        for response, session in zip(held, sessions, strict=True):
            response.close()
            session.close()
    deadline = time.monotonic() + 10
    while True:  # the held streams end at the gateway once their callers are gone
        answer = requests.post(url, json=body, headers=HEADERS, timeout=10)
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("bound", "served"),
    [(None, range(1500, 1501)), (100, range(100, 150))],
    ids=["default", "100"],
)
async def test_a_burst_of_grpc_calls_while_the_loop_is_busy_is_held_up_to_the_bound(
    upstream: ScriptedUpstream, bound: int | None, served: range
) -> None:
    # grpc's core holds calls the server has not taken yet and cancels those past its limit
    # (1,000 by default, which cut held streams): the default bound holds a burst of 1,500;
    # a bound of 100 serves about 100 of them and the rest are cancelled before the gateway
    # sees them (102 and 1,398 here).
    config = stack_config(upstream.base_url)
    if bound is not None:
        config["limits"]["max_open_requests"] = bound
    address = f"127.0.0.1:{free_port()}"
    server = await start_server(parse_config(yaml.safe_dump(config), "test"), address)
    channel = grpc.insecure_channel(address)
    try:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: check(health_pb2.HealthCheckRequest(), timeout=5))
        calls = [check.future(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(1500)]
        time.sleep(2.0)  # noqa: ASYNC251 - blocks the server's loop while the calls wait

        def outcomes() -> Counter[str]:
            statuses: Counter[str] = Counter()
            for call in calls:
                try:
                    call.result()
                    statuses["OK"] += 1
                except grpc.RpcError as error:
                    statuses[error.code().name] += 1
            return statuses

        statuses = await loop.run_in_executor(None, outcomes)
    finally:
        channel.close()
        await server.stop(0)
    assert statuses["OK"] in served, statuses
    assert statuses["OK"] + statuses["CANCELLED"] == 1500, statuses

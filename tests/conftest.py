"""Shared fixtures: one scripted upstream and one running stack for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import openai
import pytest

from llm_gateway.v1 import llm_gateway_service_pb2_grpc
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.servers import postgres_server, redis_server
from tests.support.stack import KEY, Stack, stack_config, start_stack


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"), stack_config(upstream.base_url))
    yield running
    running.stop()


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    """The official SDK pointed at Envoy's REST listener."""
    return openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=KEY, max_retries=0, timeout=20)


@pytest.fixture
def root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server of the tests' own (skips, saying why, without the binaries)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server of the tests' own (skips, saying why, without the binary)."""
    with redis_server() as url:
        yield url


@pytest.fixture(params=["gateway", "envoy"])
def typed(
    request: pytest.FixtureRequest, stack: Stack
) -> Iterator[llm_gateway_service_pb2_grpc.LlmGatewayServiceStub]:
    """The typed gRPC API, on the gateway's own port and through Envoy."""
    target = stack.grpc_target if request.param == "gateway" else stack.envoy_target
    with grpc.insecure_channel(target) as channel:
        yield llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)

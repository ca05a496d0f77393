"""`Drain.end_running`, the end of a shutdown's grace period: a stream waiting for its
upstream is ended at once, and a stream whose chunk is being sent (its task in the transport's
code) is not interrupted there, where it would be cut without an error frame, but ended when
it next asks for a chunk. Either way its caller gets a `shutting_down` error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from llm_gateway.auth.keys import Caller
from llm_gateway.config.settings import ModelSettings, RoutingSettings
from llm_gateway.dataplane import CallInfo, DataPlane
from llm_gateway.errors import GatewayError
from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.routing import Dispatcher, Router


class EndlessProvider:
    """Streams a chunk every 10 ms until closed."""

    name = "endless"
    system = "openai"

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        while True:
            await asyncio.sleep(0.01)
            yield {"choices": [{"index": 0, "delta": {"content": "w "}}]}

    async def aclose(self) -> None:
        return None


def _dataplane() -> DataPlane:
    policy = RoutingSettings()
    models = {"m": ModelSettings.model_validate({"provider": "endless", "model": "m"})}
    router = Router(models, {"endless": EndlessProvider()}, policy)  # type: ignore[dict-item]
    return DataPlane(router, Dispatcher(router.chain, policy))


def _request(stream: bool) -> GenerationRequest:
    return GenerationRequest(Endpoint.CHAT, {"model": "m", "stream": stream, "messages": []})


def _call() -> CallInfo:
    return CallInfo("r", Caller("k"), "rest")


async def test_a_stream_waiting_for_its_upstream_ends_at_once() -> None:
    dataplane = _dataplane()
    chunks = dataplane.serve(_request(True), _call()).stream()

    async def consume() -> GatewayError:
        with pytest.raises(GatewayError) as raised:
            async for _ in chunks:
                pass
        return raised.value

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    assert dataplane.drain.end_running() == 1
    error = await asyncio.wait_for(consumer, 1)
    assert (error.status, error.code) == (503, "shutting_down")
    assert not consumer.cancelled() and consumer.cancelling() == 0


async def test_a_stream_sending_a_chunk_is_not_interrupted_but_ends_before_the_next() -> None:
    dataplane = _dataplane()
    chunks = dataplane.serve(_request(True), _call()).stream()
    sending = asyncio.Event()
    sent = []

    async def consume() -> GatewayError:
        with pytest.raises(GatewayError) as raised:
            async for chunk in chunks:
                sending.set()
                await asyncio.sleep(0.05)  # the transport writing the chunk
                sent.append(chunk)
        return raised.value

    consumer = asyncio.create_task(consume())
    await sending.wait()
    assert dataplane.drain.end_running() == 0  # nothing waits on an upstream right now
    error = await asyncio.wait_for(consumer, 1)
    assert (error.status, error.code) == (503, "shutting_down")
    assert len(sent) == 1  # the chunk being sent was sent


async def test_a_unary_request_ends_with_the_error() -> None:
    dataplane = _dataplane()
    pending = asyncio.create_task(dataplane.serve(_request(False), _call()).answer())
    await asyncio.sleep(0.05)
    assert dataplane.drain.end_running() == 1
    with pytest.raises(GatewayError) as raised:
        await asyncio.wait_for(pending, 1)
    assert raised.value.code == "shutting_down"

"""The proxy sends a generation call whose body certainly asks for no stream to the unary twin
of its RPC (cheaper for grpc.aio), and every other one to the streaming RPC, which serves
both; and the gateway serves whole whatever a unary twin is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.rest import exchange
from llm_gateway.config import GatewaySettings
from llm_gateway.sidecar.envoy import EnvoyProcess
from llm_gateway.v1 import anthropic_rest_service_pb2_grpc, openai_rest_service_pb2_grpc
from tests.support.stack import free_port, stack_config

Context = grpc.aio.ServicerContext[Any, HttpBody]
_ANSWER = HttpBody(content_type="application/json", data=b'{"served": true}')


class _Recorder(
    openai_rest_service_pb2_grpc.OpenAIRestServiceServicer,
    anthropic_rest_service_pb2_grpc.AnthropicRestServiceServicer,
):
    """Records which RPC each request reached, with the body it carried."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def _answer(self, name: str, request: HttpBody) -> HttpBody:
        self.calls.append((name, request.data))
        return _ANSWER

    async def CreateChatCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        yield self._answer("CreateChatCompletion", request)

    async def CreateChatCompletionWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return self._answer("CreateChatCompletionWhole", request)

    async def CreateCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        yield self._answer("CreateCompletion", request)

    async def CreateCompletionWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return self._answer("CreateCompletionWhole", request)

    async def CreateMessage(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        yield self._answer("CreateMessage", request)

    async def CreateMessageWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return self._answer("CreateMessageWhole", request)


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _with(**fields: Any) -> bytes:
    return json.dumps({**CHAT, **fields}).encode()


# (path, body, the RPC it must reach)
CASES: list[tuple[str, bytes, str]] = [
    ("/v1/chat/completions", _with(), "CreateChatCompletionWhole"),
    ("/v1/chat/completions", _with(stream=False), "CreateChatCompletionWhole"),
    ("/v1/chat/completions", _with(stream=True), "CreateChatCompletion"),
    ("/v1/chat/completions", b'{"stream" :\n\ttrue, "model": "m"}', "CreateChatCompletion"),
    # The word in a message, or a key of that name with another value, is not a stream.
    ("/v1/chat/completions", _with(user='"stream": true'), "CreateChatCompletionWhole"),
    ("/v1/chat/completions", _with(metadata={"stream": "true"}), "CreateChatCompletionWhole"),
    # A nested `"stream": true` is not told from the caller's own: the streaming RPC
    # serves the whole answer too.
    (
        "/v1/chat/completions",
        _with(response_format={"type": "json_schema", "json_schema": {"stream": True}}),
        "CreateChatCompletion",
    ),
    # The proxy reads a body of at most 256 KiB.
    ("/v1/chat/completions", _with(user="x" * 300_000), "CreateChatCompletion"),
    ("/v1/completions?x=1", b'{"model": "m", "prompt": "hi"}', "CreateCompletionWhole"),
    ("/v1/completions", b'{"model": "m", "prompt": "hi", "stream": true}', "CreateCompletion"),
    ("/v1/messages?beta=true", _with(max_tokens=5), "CreateMessageWhole"),
    ("/v1/messages", _with(max_tokens=5, stream=True), "CreateMessage"),
]


@pytest.fixture(scope="module")
async def proxy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, _Recorder]]:
    recorder = _Recorder()
    server = grpc.aio.server()
    openai_rest_service_pb2_grpc.add_OpenAIRestServiceServicer_to_server(recorder, server)
    anthropic_rest_service_pb2_grpc.add_AnthropicRestServiceServicer_to_server(recorder, server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = stack_config("http://127.0.0.1:9/v1")
    config["listen"]["grpc"] = f"127.0.0.1:{grpc_port}"
    config["listen"]["rest"] = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings.model_validate(config)
    envoy = EnvoyProcess(settings, concurrency=1)
    await envoy.spawn()
    try:
        await envoy.wait_ready()
        yield f"http://{settings.listen.rest}", recorder
    finally:
        await envoy.stop()
        await server.stop(None)


@pytest.mark.parametrize(("path", "body", "rpc"), CASES)
async def test_each_body_reaches_the_rpc_its_stream_field_asks_for(
    proxy: tuple[str, _Recorder], path: str, body: bytes, rpc: str
) -> None:
    url, recorder = proxy
    recorder.calls.clear()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, data=body, headers={"content-type": "application/json"}) as got,
    ):
        assert got.status == 200, await got.text()
        assert await got.read() == _ANSWER.data
    assert recorder.calls == [(rpc, body)]


async def test_a_body_of_unknown_length_reaches_the_streaming_rpc(
    proxy: tuple[str, _Recorder],
) -> None:
    url, recorder = proxy
    recorder.calls.clear()

    async def chunks() -> AsyncIterator[bytes]:
        yield _with()

    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", data=chunks()) as got,
    ):
        assert got.status == 200
    assert recorder.calls == [("CreateChatCompletion", _with())]


async def test_callers_cannot_reach_a_unary_twin_by_its_own_path(
    proxy: tuple[str, _Recorder],
) -> None:
    url, recorder = proxy
    recorder.calls.clear()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/whole/v1/chat/completions", data=_with()) as got,
    ):
        assert got.status == 404
        assert (await got.json())["error"]["code"] == "unknown_url"
    assert recorder.calls == []


async def test_a_unary_twin_serves_a_stream_it_is_sent_whole() -> None:
    frames = [
        HttpBody(content_type="text/event-stream", data=b"data: 1\n\n"),
        HttpBody(data=b"data: 2\n\n"),
        HttpBody(data=b"data: [DONE]\n\n"),
    ]

    async def stream() -> AsyncIterator[HttpBody]:
        for frame in frames:
            yield frame

    served = await exchange.whole(stream())
    assert served.content_type == "text/event-stream"
    assert served.data == b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"

"""How the gRPC server finds a call's handler: every method through one table, none registered
with grpc.aio (each registered method costs grpc.aio work on every call it accepts, see
`method_table`). Bursts held while the event loop is busy: tests/test_open_requests.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from llm_gateway.config.loader import parse_config
from llm_gateway.method_table import MethodTable
from llm_gateway.server import start_server
from llm_gateway.v1 import openai_rest_service_pb2_grpc
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import free_port, stack_config
from tests.test_virtual_keys import SECRET


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


class _Spy(grpc.GenericRpcHandler):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> None:
        self.asked.append(handler_call_details.method)


def test_the_table_finds_each_registered_method_and_asks_other_handlers_for_the_rest() -> None:
    table = MethodTable()
    spy = _Spy()
    table.add_generic_rpc_handlers((spy,))
    openai_rest_service_pb2_grpc.add_OpenAIRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        openai_rest_service_pb2_grpc.OpenAIRestServiceServicer(), table
    )
    found = table.service(_Details("/llm_gateway.v1.OpenAIRestService/CreateChatCompletion"))
    assert found is not None and found.response_streaming
    whole = table.service(_Details("/llm_gateway.v1.OpenAIRestService/CreateChatCompletionWhole"))
    assert whole is not None and not whole.response_streaming
    assert spy.asked == []  # a registered method is one lookup, no handler asked
    assert table.service(_Details("/llm_gateway.v1.OpenAIRestService/NoSuchMethod")) is None
    assert spy.asked == ["/llm_gateway.v1.OpenAIRestService/NoSuchMethod"]

    extra = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    table.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("x.Extra", {"M": extra}),))
    assert table.service(_Details("/x.Extra/M")) is extra


async def test_the_server_has_no_registered_methods_and_still_serves_everything(
    upstream: ScriptedUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[str] = []
    original = grpc.aio._server.Server.add_registered_method_handlers

    def record(self: Any, service: str, handlers: Any) -> None:
        registered.append(service)
        original(self, service, handlers)

    monkeypatch.setattr(grpc.aio._server.Server, "add_registered_method_handlers", record)
    storage = {"database": f"sqlite:///{tmp_path / 'gateway.db'}", "key_secret": SECRET}
    config = stack_config(upstream.base_url, storage=storage)
    address = f"127.0.0.1:{free_port()}"
    server = await start_server(parse_config(yaml.safe_dump(config), "test"), address)
    try:
        assert registered == []
        async with grpc.aio.insecure_channel(address) as channel:
            # Each reaches its handler, which refuses the call without a key, rather than
            # UNIMPLEMENTED.
            refusals = {
                "/llm_gateway.v1.LlmGatewayService/ListModels": grpc.StatusCode.UNAUTHENTICATED,
                "/llm_gateway.v1.AdminService/ListKeys": grpc.StatusCode.PERMISSION_DENIED,
            }
            for method, status in refusals.items():
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await channel.unary_unary(method)(b"", timeout=5)
                assert refused.value.code() == status, method
            unknown = channel.unary_unary("/llm_gateway.v1.LlmGatewayService/NoSuchMethod")
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await unknown(b"", timeout=5)
            assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)

"""What the API surfaces do when something fails inside the gateway itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import orjson
import pytest
from google.api.httpbody_pb2 import HttpBody
from google.rpc import status_pb2

from llm_gateway.api.grpc import LlmGatewayServicer
from llm_gateway.api.grpc.status import DETAILS_KEY
from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest.servicer import OpenAIRestServicer
from llm_gateway.auth import KeyRing
from llm_gateway.config.settings import KeySettings
from llm_gateway.model import RequestValidator
from llm_gateway.v1 import chat_pb2, common_pb2

KEY = "sk-unit-test-key"


class FakeContext:
    """The parts of `grpc.aio.ServicerContext` the servicers use."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata
        self.sent: tuple[tuple[str, str], ...] | None = None
        self.callbacks: list[Callable[[Any], None]] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self.callbacks.append(callback)

    async def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        assert self.sent is None, "initial metadata sent twice"
        self.sent = metadata

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = metadata

    async def abort(
        self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[tuple[str, Any], ...]
    ) -> None:
        raise Aborted(code, details, dict(trailing_metadata))


class Aborted(Exception):
    """What grpc.aio's `context.abort` raises, as the fake context raises it."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: dict[str, Any]) -> None:
        super().__init__(details)
        self.code, self.details, self.trailing = code, details, trailing


class BrokenDataPlane:
    """A data plane with a bug in it."""

    async def generate(self, request: Any, call: Any) -> dict[str, Any]:
        raise KeyError("internal detail /srv/secret.py")


async def test_unexpected_failure_is_an_openai_500_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = KeyRing([KeySettings(name="unit", key=KEY)])  # type: ignore[arg-type]
    servicer = OpenAIRestServicer(BrokenDataPlane(), RequestValidator(), keys)  # type: ignore[arg-type]
    context = FakeContext((("authorization", f"Bearer {KEY}"), ("x-request-id", "unit-1")))
    body = HttpBody(
        data=orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    )
    answers = [a async for a in servicer.CreateChatCompletion(body, context)]  # type: ignore[arg-type]
    assert len(answers) == 1
    assert dict(context.sent or ()) == {"x-http-status": "500", "x-request-id": "unit-1"}
    error = orjson.loads(answers[0].data)["error"]
    assert error["code"] == "internal_error" and error["type"] == "server_error"
    assert "/srv/" not in answers[0].data.decode()
    assert "unit-1" in caplog.text  # the details go to the log


async def test_unexpected_failure_over_grpc_is_internal_without_internals() -> None:
    keys = KeyRing([KeySettings(name="unit", key=KEY)])  # type: ignore[arg-type]
    servicer = LlmGatewayServicer(BrokenDataPlane(), RequestValidator(), keys)  # type: ignore[arg-type]
    context = FakeContext((("authorization", f"Bearer {KEY}"), ("x-request-id", "unit-2")))
    request = chat_pb2.ChatCompletionRequest(
        model="m", messages=[chat_pb2.ChatMessage(role="user", text="x")]
    )
    with pytest.raises(Aborted) as caught:
        await servicer.CreateChatCompletion(request, context)  # type: ignore[arg-type]
    assert caught.value.code == grpc.StatusCode.INTERNAL
    assert "/srv/" not in caught.value.details
    status = status_pb2.Status.FromString(caught.value.trailing[DETAILS_KEY])
    detail = common_pb2.Error()
    status.details[0].Unpack(detail)
    assert (detail.code, detail.http_status) == ("internal_error", 500)
    assert caught.value.trailing["x-request-id"] == "unit-2"


async def test_done_callback_cancels_unfinished_work_only() -> None:
    async def work(finish: bool) -> str:
        context = FakeContext(())
        inbound = InboundCall(context, "rest")  # type: ignore[arg-type]
        if finish:
            inbound.finish()
        for callback in context.callbacks:  # the RPC ends (caller gone, or normal end)
            callback(None)
        await asyncio.sleep(0.01)
        return "ran to the end"

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(work(finish=False))
    assert await asyncio.create_task(work(finish=True)) == "ran to the end"

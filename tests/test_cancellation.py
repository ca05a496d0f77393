"""A caller that goes away stops the upstream call at once, and its usage is still logged."""

from __future__ import annotations

import json
import socket
import time

import grpc
import pytest

from llm_gateway.v1 import chat_pb2
from tests.support.grpc_client import METADATA, stub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

ROUNDS = 20  # Envoy's reset reaches grpc.aio handlers by different paths: try many times.
LIMIT = 0.5


def open_rest_stream(stack: Stack, request_id: str) -> socket.socket:
    """Starts a streamed chat over raw HTTP and returns once the first frame has arrived."""
    body = json.dumps(
        {"model": "gpt-slow", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    ).encode()
    host, port = stack.envoy_target.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {KEY}\r\nx-request-id: {request_id}\r\n".encode()
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    received = b""
    while b"data: {" not in received:
        received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200")
    return sock


def log_entry(stack: Stack, request_id: str, limit: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for line in stack.log_lines():
            if f'"request_id":"{request_id}"' in line:
                return json.loads(line)  # type: ignore[no-any-return]
        time.sleep(0.01)
    raise AssertionError(f"no log line for {request_id}")


def test_rest_disconnect_closes_upstream(stack: Stack, upstream: ScriptedUpstream) -> None:
    delays = []
    for round_ in range(ROUNDS):
        request_id = f"rest-cancel-{round_}"
        sock = open_rest_stream(stack, request_id)
        time.sleep(0.05)  # a few more chunks flow
        disconnected = time.monotonic()
        sock.close()
        recorded = upstream.wait_closed(request_id)
        assert not recorded.completed
        delays.append(recorded.closed_at - disconnected)  # type: ignore[operator]
    assert max(delays) < LIMIT, delays


@pytest.mark.parametrize("via", ["direct", "envoy"])
def test_grpc_cancel_closes_upstream(stack: Stack, upstream: ScriptedUpstream, via: str) -> None:
    channel, client = stub(stack.grpc_target if via == "direct" else stack.envoy_target)
    delays = []
    with channel:
        for round_ in range(ROUNDS):
            request_id = f"grpc-cancel-{via}-{round_}"
            call = client.StreamChatCompletion(
                chat_pb2.ChatCompletionRequest(
                    model="gpt-slow", messages=[chat_pb2.ChatMessage(role="user", text="go")]
                ),
                metadata=(*METADATA, ("x-request-id", request_id)),
                timeout=30,
            )
            next(call)
            cancelled = time.monotonic()
            call.cancel()
            with pytest.raises(grpc.RpcError):
                next(call)
            recorded = upstream.wait_closed(request_id)
            assert not recorded.completed
            delays.append(recorded.closed_at - cancelled)  # type: ignore[operator]
    assert max(delays) < LIMIT, delays


def test_cancelled_stream_is_accounted(stack: Stack, upstream: ScriptedUpstream) -> None:
    sock = open_rest_stream(stack, "accounted-1")
    time.sleep(0.2)
    sock.close()
    upstream.wait_closed("accounted-1")
    entry = log_entry(stack, "accounted-1")
    assert entry["cancelled"] is True and entry["status"] == 499
    assert entry["usage_estimated"] is True
    assert isinstance(entry["completion_tokens"], int) and entry["completion_tokens"] >= 2
    assert entry["caller"] == "tester" and entry["upstream"] == "scripted"

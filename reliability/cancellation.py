"""Cancellation at scale: callers that go away in each way they can, mid-stream. Promised:
the upstream request is closed every time, within milliseconds (p50, p99 reported).

Kinds: an HTTP/1.1 connection closed (FIN) or reset (RST) through Envoy, an HTTP/2 stream
reset (RST_STREAM) through Envoy on a connection that stays open, a gRPC call cancelled, and
a gRPC deadline that passes."""

from __future__ import annotations

import concurrent.futures
import socket
import statistics
import struct
import time
import uuid
from collections.abc import Callable

import grpc
import httpx

from llm_gateway.v1 import chat_pb2, llm_gateway_service_pb2_grpc
from reliability.faulty_upstream import FaultyUpstream
from reliability.harness import AUTH, KEY, Findings
from tests.support.stack import Stack

MODEL = "openai-slow"  # a piece every 20 ms for 20 s
BODY = (
    b'{"model": "' + MODEL.encode() + b'", "stream": true, '
    b'"messages": [{"role": "user", "content": "go"}]}'
)


def _http1(stack: Stack, request_id: str, reset: bool) -> float:
    """Reads the first chunk over a raw HTTP/1.1 connection, then closes or resets it;
    returns the moment of the abort."""
    host, _, port = stack.config["listen"]["rest"].rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
        f"authorization: {AUTH['authorization']}\r\nx-request-id: {request_id}\r\n"
        f"content-length: {len(BODY)}\r\n\r\n"
    ).encode()
    sock.sendall(head + BODY)
    received = b""
    while b"data: " not in received:
        received += sock.recv(65536)
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    aborted = time.monotonic()
    sock.close()
    return aborted


class _Http2:
    """One HTTP/2 connection to Envoy; each abort resets one stream of it."""

    def __init__(self, stack: Stack) -> None:
        self._client = httpx.Client(http2=True, timeout=10, base_url=stack.rest_url)

    def __call__(self, request_id: str) -> float:
        headers = {**AUTH, "x-request-id": request_id, "content-type": "application/json"}
        with self._client.stream(
            "POST", "/v1/chat/completions", content=BODY, headers=headers
        ) as r:
            for _ in r.iter_bytes():
                break
            aborted = time.monotonic()
        return aborted

    def close(self) -> None:
        self._client.close()


def _grpc(stack: Stack, request_id: str, deadline: bool) -> float:
    request = chat_pb2.ChatCompletionRequest(
        model=MODEL, messages=[chat_pb2.ChatMessage(role="user", text="go")]
    )
    metadata = (("authorization", f"Bearer {KEY}"), ("x-request-id", request_id))
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        call = stub.StreamChatCompletion(
            request, metadata=metadata, timeout=0.3 if deadline else 30
        )
        started = time.monotonic()
        try:
            next(call)
            if not deadline:
                aborted = time.monotonic()
                call.cancel()
                return aborted
            for _ in call:
                pass
        except grpc.RpcError:
            pass
        return started + 0.3  # the deadline passes 0.3 s after the call starts


def run(stack: Stack, upstream: FaultyUpstream, count: int) -> Findings:
    """Aborts `count` streams of each kind (ten at a time); reports the delays."""
    findings = Findings("cancellation")
    http2 = _Http2(stack)
    kinds: dict[str, Callable[[str], float]] = {
        "HTTP/1.1 close": lambda rid: _http1(stack, rid, reset=False),
        "HTTP/1.1 RST": lambda rid: _http1(stack, rid, reset=True),
        "HTTP/2 RST_STREAM (Envoy)": http2,
        "gRPC cancel": lambda rid: _grpc(stack, rid, deadline=False),
        "gRPC deadline": lambda rid: _grpc(stack, rid, deadline=True),
    }
    try:
        for kind, abort in kinds.items():
            # One HTTP/2 connection carries its streams one at a time; the rest in parallel.
            workers = 1 if abort is http2 else 10

            def one(_: int, abort: Callable[[str], float] = abort) -> float | None:
                request_id = f"cancel-{uuid.uuid4().hex[:12]}"
                aborted = abort(request_id)
                closed = upstream.wait_closed(request_id, 10)
                return None if closed is None else max(0.0, closed - aborted)

            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                delays = list(pool.map(one, range(count)))
            closed = [d * 1000 for d in delays if d is not None]
            findings.check(
                len(closed) == count,
                f"{kind}: {count - len(closed)} of {count} upstream calls not closed",
            )
            quantiles = statistics.quantiles(closed, n=100) if len(closed) > 1 else closed * 99
            findings.figures[kind] = {
                "aborts": count,
                "upstream closed": f"{len(closed)} ({100 * len(closed) / count:.0f}%)",
                "p50 ms": round(statistics.median(closed), 1) if closed else None,
                "p99 ms": round(quantiles[98], 1) if closed else None,
            }
    finally:
        http2.close()
    return findings

"""SIGTERM drains: the gateway reports NOT_SERVING and refuses new requests at once, running
streams shorter than the grace period finish with `[DONE]`, longer ones end with an error frame
before it ends, every request's usage record is written, and the processes exit within
grace + 2 s. Both ways of running the stack are shown: `llm-gateway up` (one process group), and
the gateway and its sidecar as separate processes, as in a Kubernetes pod, signalled together.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from llm_gateway.v1 import chat_pb2
from tests.support.databases import query
from tests.support.grpc_client import METADATA, error_details, stub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

GRACE = 4.0
PACED_TEXT = "".join(f"w{i} " for i in range(20))  # the `paced` scenario: about 1 s


def _drain_config(upstream: ScriptedUpstream, folder: Path) -> dict[str, Any]:
    return stack_config(
        upstream.base_url,
        shutdown_grace_seconds=GRACE,
        # Usage records wait a minute to be written: only the shutdown's flush writes them.
        storage={
            "database": f"sqlite:///{folder / 'usage.db'}",
            "key_secret": "drain-test-secret-0123456789",
            "usage_flush_seconds": 60,
        },
    )


class Streams:
    """Streams opened through the REST listener, each read to its end in a thread."""

    def __init__(self, rest_url: str, models: list[str]) -> None:
        self.bodies: list[bytes] = [b""] * len(models)
        self._started = threading.Barrier(len(models) + 1)
        self._threads = [
            threading.Thread(target=self._read, args=(rest_url, i, m), daemon=True)
            for i, m in enumerate(models)
        ]
        for thread in self._threads:
            thread.start()
        self._started.wait(30)  # every stream has its first chunk

    def _read(self, rest_url: str, index: int, model: str) -> None:
        response = requests.post(
            f"{rest_url}/v1/chat/completions",
            stream=True,
            timeout=30,
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]},
        )
        chunks = response.iter_content(chunk_size=None)
        self.bodies[index] = next(chunks)
        self._started.wait(30)
        with contextlib.suppress(requests.RequestException):
            for chunk in chunks:
                self.bodies[index] += chunk

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)


def _frames(body: bytes) -> list[bytes]:
    return [f.removeprefix(b"data: ") for f in body.split(b"\n\n") if f]


def _text(frames: list[bytes]) -> str:
    text = ""
    for frame in frames:
        chunk = json.loads(frame)
        if chunk.get("choices"):
            text += chunk["choices"][0]["delta"].get("content") or ""
    return text


def _refused(rest_url: str, grpc_target: str) -> None:
    """A new request over REST gets an OpenAI-shaped 503 (or no connection at all once Envoy's
    listener is closed); the gateway's health reports NOT_SERVING or refuses the call."""
    with contextlib.suppress(requests.ConnectionError):
        response = requests.post(
            f"{rest_url}/v1/chat/completions",
            timeout=5,
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "gpt-echo", "messages": [{"role": "user", "content": "x"}]},
        )
        assert response.status_code == 503
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    with grpc.insecure_channel(grpc_target) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        else:
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcStream(threading.Thread):
    """A typed gRPC stream read to its end; keeps the error that ended it."""

    def __init__(self, target: str, model: str) -> None:
        super().__init__(daemon=True)
        self.started = threading.Event()
        self.messages = 0
        self.error: grpc.RpcError | None = None
        self._target, self._model = target, model
        self.start()
        assert self.started.wait(30)

    def run(self) -> None:
        channel, client = stub(self._target)
        with channel:
            request = chat_pb2.ChatCompletionRequest(
                model=self._model, messages=[chat_pb2.ChatMessage(role="user", text="x")]
            )
            try:
                for _ in client.StreamChatCompletion(request, metadata=METADATA, timeout=30):
                    self.messages += 1
                    self.started.set()
            except grpc.RpcError as error:
                self.error = error


def _drain(stack: Stack, signal_all: Callable[[], None], wait_all: Callable[[float], None]) -> None:
    # `slow` streams last 10 s: past the grace. Two of them over the typed gRPC API.
    models = ["gpt-paced"] * 40 + ["gpt-slow"] * 8
    streams = Streams(stack.rest_url, models)
    typed = [GrpcStream(stack.grpc_target, "gpt-slow") for _ in range(2)]
    signalled = time.monotonic()
    signal_all()
    time.sleep(0.3)
    _refused(stack.rest_url, stack.grpc_target)
    wait_all(GRACE + 2)
    exited = time.monotonic() - signalled
    streams.join()
    for each in typed:
        each.join(5)
        assert each.error is not None and each.messages > 0
        assert each.error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert error_details(each.error)[0].code == "shutting_down"

    assert exited < GRACE + 2
    for model, body in zip(models, streams.bodies, strict=True):
        frames = _frames(body)
        if model == "gpt-paced":
            assert frames[-1] == b"[DONE]"
            assert b'"error"' not in body
            assert _text(frames[:-1]) == PACED_TEXT
        else:
            # Ended before the grace period with the error frame the SDKs raise on (then
            # OpenAI's end of stream), not cut off.
            assert frames[-1] == b"[DONE]"
            error = json.loads(frames[-2])["error"]
            assert error["code"] == "shutting_down"
            assert error["type"] == "server_error"
            assert _text(frames[:-2])  # what was streamed before the end
    rows = query(str(stack.config["storage"]["database"]), "SELECT * FROM usage_records")
    assert sorted(r["status"] for r in rows) == [200] * 40 + [503] * 10
    assert all(r["completion_tokens"] > 0 for r in rows)


def test_sigterm_drains_fifty_streams_through_llm_gateway_up(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = Path(tmp_path_factory.mktemp("drain-up"))
    stack = start_stack(folder, _drain_config(upstream, folder))
    try:
        _drain(
            stack,
            lambda: stack.process.send_signal(signal.SIGTERM),
            lambda limit: stack.process.wait(limit),
        )
        assert stack.process.returncode == 0
    finally:
        stack.stop()


def test_sigterm_drains_a_pod_whose_gateway_and_sidecar_are_separate_processes(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = Path(tmp_path_factory.mktemp("drain-pod"))
    stack = start_stack(folder, _drain_config(upstream, folder), command="serve")
    sidecar_log = (folder / "sidecar.log").open("wb")
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "llm_gateway", "sidecar", "--config", str(folder / "gateway.yaml")],
        stdout=sidecar_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_envoy(stack)

        def signal_all() -> None:  # the kubelet signals every container at once
            stack.process.send_signal(signal.SIGTERM)
            sidecar.send_signal(signal.SIGTERM)

        def wait_all(limit: float) -> None:
            deadline = time.monotonic() + limit
            stack.process.wait(deadline - time.monotonic())
            sidecar.wait(max(0.0, deadline - time.monotonic()))

        _drain(stack, signal_all, wait_all)
        assert stack.process.returncode == 0 and sidecar.returncode == 0
    finally:
        if sidecar.poll() is None:
            sidecar.kill()
            sidecar.wait()
        sidecar_log.close()
        stack.stop()


def _wait_for_envoy(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.ConnectionError):
            answer = requests.get(
                f"{stack.rest_url}/v1/models", headers={"authorization": f"Bearer {KEY}"}
            )
            if answer.status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("the sidecar did not start")


def test_a_drain_finishes_short_background_responses_and_fails_long_ones_saying_so(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = Path(tmp_path_factory.mktemp("drain-background"))
    stack = start_stack(folder, _drain_config(upstream, folder))
    try:
        started = {}
        for model in ("gpt-paced", "gpt-slow"):  # about 1 s, and 10 s: past the grace
            answer = requests.post(
                f"{stack.rest_url}/v1/responses",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": model, "input": "x", "background": True},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            started[model] = answer.json()["id"]
        stack.process.send_signal(signal.SIGTERM)
        stack.process.wait(GRACE + 2)
        assert stack.process.returncode == 0
    finally:
        stack.stop()
    database = str(stack.config["storage"]["database"])
    stored = {
        row["id"]: json.loads(row["response"])
        for row in query(database, "SELECT id, response FROM stored_responses")
    }
    finished, ended = stored[started["gpt-paced"]], stored[started["gpt-slow"]]
    assert finished["status"] == "completed" and finished["output"]
    assert ended["status"] == "failed"
    assert "shutting down" in ended["error"]["message"]
    usage = query(database, "SELECT status FROM usage_records")
    assert sorted(row["status"] for row in usage) == [200, 503]

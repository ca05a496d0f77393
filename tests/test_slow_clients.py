"""Slow and idle callers: Envoy cuts off a caller that trickles its headers or its body, and
many such connections at once (a slowloris) do not starve normal requests. Bounded: a few
hundred loopback connections for a few seconds."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from llm_gateway.config.settings import GatewaySettings
from llm_gateway.sidecar.envoy import connection_limit, render_envoy_config
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

SLOW_HEADERS = 300
SLOW_BODIES = 100


@pytest.fixture(scope="module")
def impatient(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = stack_config(upstream.base_url)
    config["limits"].update(request_headers_timeout=2, request_timeout=4, idle_connection_timeout=3)
    stack = start_stack(tmp_path_factory.mktemp("impatient"), config)
    yield stack
    stack.stop()


def _connect(stack: Stack, first: bytes) -> socket.socket:
    host, _, port = stack.config["listen"]["rest"].rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(first)
    sock.setblocking(False)
    return sock


def _closed(sock: socket.socket) -> bool:
    """Whether Envoy has closed (or answered and closed) the connection."""
    try:
        data = sock.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 408")


def test_a_slowloris_cannot_starve_normal_requests(impatient: Stack) -> None:
    headers = [
        _connect(impatient, b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n")
        for _ in range(SLOW_HEADERS)
    ]
    bodies = [
        _connect(
            impatient,
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + KEY.encode() + b"\r\ncontent-length: 10000\r\n\r\n{",
        )
        for _ in range(SLOW_BODIES)
    ]
    started = time.monotonic()
    served = 0
    open_headers, open_bodies = list(headers), list(bodies)
    try:
        while time.monotonic() - started < 8 and (open_headers or open_bodies):
            for sock in open_headers:  # one more header line, never the end of them
                with contextlib.suppress(OSError):
                    sock.send(b"x-slow: 1\r\n")
            for sock in open_bodies:
                with contextlib.suppress(OSError):
                    sock.send(b" ")
            answer = requests.post(
                f"{impatient.rest_url}/v1/chat/completions",
                json={"model": "gpt-echo", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {KEY}"},
                timeout=5,
            )
            assert answer.status_code == 200
            served += 1
            time.sleep(0.3)
            open_headers = [s for s in open_headers if not _closed(s)]
            open_bodies = [s for s in open_bodies if not _closed(s)]
        elapsed = time.monotonic() - started
    finally:
        for sock in headers + bodies:
            sock.close()
    assert not open_headers, f"{len(open_headers)} slow-header connections still open"
    assert not open_bodies, f"{len(open_bodies)} slow-body connections still open"
    assert served >= 5 and elapsed < 8


def test_an_idle_connection_is_closed(impatient: Stack) -> None:
    sock = _connect(
        impatient,
        b"GET /v1/models HTTP/1.1\r\nHost: gw\r\nx-api-key: " + KEY.encode() + b"\r\n\r\n",
    )
    try:
        # Idle for 3 s, then Envoy's drain sequence (drain_timeout 5 s, delayed close 1 s).
        deadline = time.monotonic() + 12
        answer = b""
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                time.sleep(0.1)
                continue
            if not data:
                break
            answer += data
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        assert time.monotonic() < deadline, "the idle connection was never closed"
    finally:
        sock.close()


def test_the_connection_cap_stays_within_the_open_files_limit(tmp_path: Path) -> None:
    import resource

    settings = GatewaySettings.model_validate(stack_config("http://127.0.0.1:9/v1"))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    rendered = render_envoy_config(settings)
    (monitor,) = rendered["overload_manager"]["resource_monitors"]
    cap = monitor["typed_config"]["max_active_downstream_connections"]
    assert cap == connection_limit(settings) and 0 < cap < soft
    for listener in rendered["static_resources"]["listeners"]:
        assert listener["enable_reuse_port"] is False
    config = stack_config("http://127.0.0.1:9/v1")
    config["limits"]["max_connections"] = 100
    assert connection_limit(GatewaySettings.model_validate(config)) == 100
    yaml.safe_dump(rendered)  # renders to YAML as Envoy reads it

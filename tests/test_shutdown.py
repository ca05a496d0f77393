"""SIGTERM drains: running streams finish, new requests are refused, the process exits."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, stack_config, start_stack

STREAMS = 5


def test_sigterm_lets_running_streams_finish(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = start_stack(
        Path(tmp_path_factory.mktemp("drain")),
        stack_config(upstream.base_url, shutdown_grace_seconds=5),
    )
    try:
        bodies: list[bytes] = [b""] * STREAMS
        started = threading.Barrier(STREAMS + 1)

        def stream(index: int) -> None:
            response = requests.post(
                f"{stack.rest_url}/v1/chat/completions",
                stream=True,
                timeout=30,
                headers={"authorization": f"Bearer {KEY}"},
                json={
                    "model": "gpt-paced",
                    "stream": True,
                    "messages": [{"role": "user", "content": "x"}],
                },
            )
            chunks = response.iter_content(chunk_size=None)
            bodies[index] = next(chunks)
            started.wait(10)
            bodies[index] += b"".join(chunks)

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
        for thread in threads:
            thread.start()
        started.wait(10)
        signalled = time.monotonic()
        stack.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        refused = None
        with contextlib.suppress(requests.ConnectionError):  # refused at the socket: also fine
            refused = requests.post(
                f"{stack.rest_url}/v1/chat/completions",
                timeout=5,
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "gpt-echo", "messages": [{"role": "user", "content": "x"}]},
            )
        for thread in threads:
            thread.join(15)
        stack.process.wait(5 + 2)
        exited = time.monotonic() - signalled
    finally:
        stack.stop()
    for body in bodies:
        frames = body.split(b"\n\n")
        assert frames[-2] == b"data: [DONE]"
        assert b'"error"' not in body
        text = "".join(
            json.loads(f[6:])["choices"][0]["delta"].get("content") or ""
            for f in frames[:-2]
            if json.loads(f[6:])["choices"]
        )
        assert text == "".join(f"w{i} " for i in range(20))
    if refused is not None:
        assert refused.status_code == 503
        assert set(refused.json()["error"]) == {"message", "type", "param", "code"}
    assert exited < 5 + 2

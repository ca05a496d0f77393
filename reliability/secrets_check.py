"""Secrets and reach: a canary caller key, upstream key and prompt go through every kind of
request (served, refused, failed, malformed, keys in query strings and headers); none may
show up in a log, the database, the usage journal or an error body. And a sink listener, on
an address the config does not name, must see no connection whatever callers put in their
requests (image URLs, base URLs, forwarded hosts, model names that look like URLs)."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import httpx

from reliability.harness import AUTH, KEY, UPSTREAM_KEY, Findings
from tests.support.stack import Stack


class Sink:
    """A listener that counts the connections it is offered."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def run(stack: Stack) -> Findings:
    findings = Findings("secrets and reach")
    prompt = f"CANARY-PROMPT-{uuid.uuid4().hex}"
    sink = Sink()
    bodies: list[str] = []
    sink_url = f"http://{sink.address}"
    try:
        with httpx.Client(base_url=stack.rest_url, timeout=30) as client:

            def chat(model: str, headers: dict[str, str] | None = None, **extra: object) -> None:
                body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
                answer = client.post("/v1/chat/completions", json=body, headers=headers or AUTH)
                bodies.append(answer.text)

            for model in ("openai-ok", "anthropic-ok", "gemini-ok", "openai-status-500",
                          "openai-drop", "anthropic-error-event", "gemini-status-429"):  # fmt: skip
                chat(model)
                chat(model, stream=True)
            chat("openai-ok", {"authorization": f"Bearer {KEY}x"})  # a wrong key
            chat("no-such-model")
            chat("openai-ok", max_tokens=-5)
            image = {"type": "image_url", "image_url": {"url": f"{sink_url}/cat.png"}}
            body = {
                "model": "openai-ok",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": prompt}, image]}
                ],
                "base_url": sink_url,
                "api_base": sink_url,
            }
            for headers in (
                AUTH,
                {**AUTH, "x-forwarded-host": sink.address, "host": sink.address},
                {
                    **AUTH,
                    "x-envoy-original-dst-host": sink.address,
                    "forwarded": f"host={sink.address}",
                },
            ):
                bodies.append(client.post("/v1/chat/completions", json=body, headers=headers).text)
            chat(f"{sink_url}/v1")
            for path in (f"/v1beta/models/gpt?key={KEY}", f"/v1/none?key={KEY}"):
                bodies.append(client.get(path).text)
            bodies.append(
                client.post(f"/v1beta/models/openai-ok:generateContent?key={KEY}x", json={}).text
            )
            bodies.append(client.get("/v1/models", headers={"x-api-key": f"{KEY}-wrong"}).text)
    finally:
        sink.close()
    findings.check(
        sink.connections == 0, f"the sink outside the config was reached {sink.connections} times"
    )
    places = {"error bodies": "\n".join(bodies), "log": stack.log_path.read_text()}
    database = Path(str(stack.config["storage"]["database"]).removeprefix("sqlite:///"))
    for file in (
        *database.parent.glob(database.name + "*"),
        *database.parent.glob("*.usage-journal/*"),
    ):
        if file.is_file():
            places[file.name] = file.read_bytes().decode("latin-1")
    for canary, what in (
        (KEY, "the caller's key"),
        (UPSTREAM_KEY, "the upstream key"),
        (prompt, "the prompt"),
    ):
        for place, text in places.items():
            findings.check(canary not in text, f"{what} is in {place}")
    findings.figures = {
        "requests": len(bodies),
        "places searched": len(places),
        "canaries found": len(findings.failures),
        "connections to the sink": sink.connections,
    }
    return findings

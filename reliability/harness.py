"""What every part of the suite shares: the stack in front of the faulty upstream, its
clients, and reading what callers received and what the gateway recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from reliability.faulty_upstream import (
    FAMILIES,
    OVERSIZE,
    STATUS_FAULTS,
    STREAM_FAULTS,
    FaultyUpstream,
)
from tests.support.databases import query
from tests.support.stack import KEY, Stack, free_port

UPSTREAM_KEY = "sk-reliability-upstream-secret-0123456789"
SECRET = "reliability-secret-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}
MAX_RESPONSE_BYTES = OVERSIZE // 2  # so that the `oversize` fault is over the gateway's cap
MODELS = (*STREAM_FAULTS, *STATUS_FAULTS, "ok", "slow", "paced")


def config(upstream: FaultyUpstream, folder: Path, **overrides: Any) -> dict[str, Any]:
    """A gateway config whose model `<family>-<fault>` reaches the faulty upstream's `fault`
    in that family's wire format, with short timeouts and usage records in SQLite."""
    providers = {
        family: {"type": family, "base_url": upstream.url(family), "api_key": UPSTREAM_KEY}
        for family in FAMILIES
    }
    models = {
        f"{family}-{fault}": {
            "deployments": [
                {"provider": family, "model": fault, "idle_timeout": 1, "first_byte_timeout": 2}
            ]
        }
        for family in FAMILIES
        for fault in MODELS
    }
    settings: dict[str, Any] = {
        "listen": {
            "rest": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "metrics": f"127.0.0.1:{free_port()}",
            "envoy_metrics": f"127.0.0.1:{free_port()}",
        },
        "providers": providers,
        "models": models,
        "keys": [{"name": "reliability", "key": KEY}],
        "limits": {"max_response_bytes": MAX_RESPONSE_BYTES},
        "routing": {
            "retries": 1,
            "backoff_seconds": 0.01,
            "max_retry_after_seconds": 2,
            "cooldown_seconds": 0,
        },
        "storage": {
            "database": f"sqlite:///{folder}/gateway.db",
            "key_secret": SECRET,
            "usage_flush_seconds": 0.2,
        },
        "shutdown_grace_seconds": 5,
    }
    settings.update(overrides)
    return settings


def sse_frames(body: bytes) -> list[bytes]:
    """The `data:` payloads of an SSE body, in order."""
    frames = []
    for event in body.split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data: "):
                frames.append(line[6:])
    return frames


def streamed_text(frames: list[bytes]) -> str:
    """The text of the chunks before any error frame."""
    text = []
    for frame in frames:
        if frame == b"[DONE]":
            break
        chunk = orjson.loads(frame)
        if "error" in chunk:
            break
        for choice in chunk.get("choices") or ():
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)


def usage_records(stack: Stack, request_ids: list[str], wait: float = 5.0) -> dict[str, int]:
    """How many usage records each request id has, once every one has at least one (or
    `wait` seconds have passed)."""
    database = str(stack.config["storage"]["database"])
    deadline = time.monotonic() + wait
    counts: dict[str, int] = {}
    while True:
        rows = query(database, "SELECT request_id FROM usage_records")
        counts = dict.fromkeys(request_ids, 0)
        for row in rows:
            if row["request_id"] in counts:
                counts[row["request_id"]] += 1
        if all(counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


@dataclass
class Findings:
    """One part's figures (for the page) and every broken promise it saw."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def check(self, condition: bool, failure: str) -> None:
        if not condition:
            self.failures.append(failure)

"""The fault matrix: every upstream fault, every upstream API family, REST (through Envoy)
and the typed gRPC API. Promised for each run:
- a fault after the first byte ends the stream with an error frame and then `[DONE]` (REST)
  or a non-OK status (gRPC), and the text sent before it arrives exactly once;
- a fault before the first byte is an error status in the caller's protocol;
- nothing is retried after the first byte (the upstream saw one attempt);
- every request leaves a usage record.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import uuid
from dataclasses import dataclass

import grpc
import httpx
import orjson

from llm_gateway.v1 import chat_pb2, llm_gateway_service_pb2_grpc
from reliability.faulty_upstream import (
    FAMILIES,
    FAULT_AFTER,
    STATUS_FAULTS,
    STREAM_FAULTS,
    FaultyUpstream,
)
from reliability.harness import AUTH, KEY, Findings, sse_frames, streamed_text, usage_records
from tests.support.stack import Stack

BEFORE_FAULT = "".join(f"t{i} " for i in range(FAULT_AFTER))
# What a caller may get for a fault before the first byte.
REST_STATUSES = {429, 502, 503, 504}
GRPC_CODES = {
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


@dataclass(frozen=True)
class Case:
    family: str
    fault: str
    transport: str
    request_id: str

    @property
    def model(self) -> str:
        return f"{self.family}-{self.fault}"

    @property
    def after_first_byte(self) -> bool:
        return self.fault in STREAM_FAULTS


def _rest(stack: Stack, case: Case) -> str | None:
    """Runs one case over REST; returns what broke, if anything."""
    body = {
        "model": case.model,
        "messages": [{"role": "user", "content": "go"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {**AUTH, "x-request-id": case.request_id}
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{stack.rest_url}/v1/chat/completions", json=body, headers=headers)
    if not case.after_first_byte:
        if answer.status_code not in REST_STATUSES:
            return f"status {answer.status_code}"
        error = orjson.loads(answer.content).get("error")
        if not isinstance(error, dict) or set(error) != {"message", "type", "param", "code"}:
            return f"not OpenAI's error shape: {answer.content[:200]!r}"
        return None
    if answer.status_code != 200:
        return f"status {answer.status_code} after the first byte"
    frames = sse_frames(answer.content)
    if frames[-1:] != [b"[DONE]"]:
        return "no [DONE] at the end"
    if len(frames) < 2 or "error" not in orjson.loads(frames[-2]):
        return "no error frame before [DONE]"
    if streamed_text(frames) != BEFORE_FAULT:
        return f"text before the fault was {streamed_text(frames)!r}"
    return None


def _grpc(stack: Stack, case: Case) -> str | None:
    request = chat_pb2.ChatCompletionRequest(
        model=case.model, messages=[chat_pb2.ChatMessage(role="user", text="go")]
    )
    metadata = (("authorization", f"Bearer {KEY}"), ("x-request-id", case.request_id))
    text = []
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        try:
            for chunk in stub.StreamChatCompletion(request, metadata=metadata, timeout=30):
                text += [choice.delta.content for choice in chunk.choices]
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if case.after_first_byte and "".join(text) != BEFORE_FAULT:
                return f"text before the fault was {''.join(text)!r}"
            if code == grpc.StatusCode.OK or code == grpc.StatusCode.INTERNAL:
                return f"status {code}"
            if not case.after_first_byte and code not in GRPC_CODES:
                return f"status {code} before the first byte"
            return None
    return "the stream ended as if it had succeeded"


def run(stack: Stack, upstream: FaultyUpstream, repetitions: int) -> Findings:
    """Runs the matrix `repetitions` times, cases in parallel."""
    findings = Findings("faults")
    cases = [
        Case(family, fault, transport, f"fault-{uuid.uuid4().hex[:12]}")
        for _, family, fault, transport in itertools.product(
            range(repetitions), FAMILIES, (*STREAM_FAULTS, *STATUS_FAULTS), ("rest", "grpc")
        )
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(
            pool.map(lambda c: (_rest if c.transport == "rest" else _grpc)(stack, c), cases)
        )
    broken = 0
    for case, outcome in zip(cases, outcomes, strict=True):
        if outcome is not None:
            broken += 1
            findings.failures.append(f"{case.transport} {case.model}: {outcome}")
        attempts = upstream.get(case.request_id).attempts
        if case.after_first_byte and attempts != 1:
            findings.failures.append(f"{case.transport} {case.model}: {attempts} upstream attempts")
    records = usage_records(stack, [c.request_id for c in cases])
    missing = [rid for rid, count in records.items() if count != 1]
    findings.check(not missing, f"{len(missing)} requests without exactly one usage record")
    retried = sum(
        1 for c in cases if c.after_first_byte and upstream.get(c.request_id).attempts != 1
    )
    findings.figures = {
        "cases": len(cases),
        "faults": len(STREAM_FAULTS) + len(STATUS_FAULTS),
        "families": len(FAMILIES),
        "transports": 2,
        "repetitions": repetitions,
        "cases that broke a promise": broken,
        "retries after the first byte": retried,
        "usage records missing or doubled": len(missing),
    }
    return findings

"""Bad input on all three surfaces: schemathesis with OpenAI's official specification
(positive and negative phases) and hand-written hostile cases. Promised: no 5xx, no hang,
every error in the surface's own shape."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from reliability.harness import KEY, Findings
from tests.support.stack import Stack

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "openai-openapi" / "openapi.yaml"
OPERATIONS = ("/chat/completions", "/completions", "/models", "/models/{model}")
TIMEOUT = 15.0  # a request that takes longer counts as a hang


@dataclass(frozen=True)
class Probe:
    """One hand-written request, and the error shape its surface must answer in."""

    method: str
    path: str
    body: bytes
    shape: str  # "openai", "anthropic" or "gemini"
    headers: tuple[tuple[str, str], ...] = ()


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def probes() -> list[Probe]:
    chat, messages, gemini = (
        "/v1/chat/completions",
        "/v1/messages",
        "/v1beta/models/openai-ok:generateContent",
    )
    hi = b'[{"role": "user", "content": "hi"}]'
    bodies = [
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"{",
        b"\xff\xfe\x00",
        b'{"model": 1}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "max_tokens": -1000000000}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "max_tokens": 1e400}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "max_tokens": 99999999999999999999999}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "n": 0}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "temperature": "hot"}',
        b'{"model": "openai-ok", "messages": ' + hi + b', "x": ' + _deep(300) + b"}",
        b'{"model": "openai-ok", "messages": ['
        + b'{"role": "user", "content": "a"},' * 2000
        + b'{"role": "user", "content": "b"}]}',
        b'{"model": "' + b"m" * 100_000 + b'", "messages": ' + hi + b"}",
        b'{"model": "openai-ok", "messages": [{"role": "wizard", "content": "hi"}]}',
        b'{"model": "openai-ok", "messages": [{"role": "user", "content": [{"type": "nope"}]}]}',
    ]
    cases = [Probe("POST", chat, body, "openai") for body in bodies]
    cases += [Probe("POST", messages, body, "anthropic") for body in bodies]
    cases += [
        Probe(
            "POST",
            messages,
            b'{"model": "openai-ok", "max_tokens": -5, "messages": ' + hi + b"}",
            "anthropic",
        ),
        Probe(
            "POST",
            messages,
            b'{"model": "openai-ok", "max_tokens": true, "messages": ' + hi + b"}",
            "anthropic",
        ),
    ]
    contents = b'{"contents": [{"parts": [{"text": "hi"}]}]'
    cases += [Probe("POST", gemini, body, "gemini") for body in bodies]
    cases += [
        Probe(
            "POST", gemini, contents + b', "generationConfig": {"maxOutputTokens": -1}}', "gemini"
        ),
        Probe(
            "POST",
            gemini,
            contents + b', "generationConfig": {"candidateCount": 10000000000}}',
            "gemini",
        ),
        Probe("POST", gemini, contents + b', "safetySettings": ' + _deep(300) + b"}", "gemini"),
    ]
    paths = [
        ("GET", "/v1/models/%ff", "openai"),
        ("GET", "/v1/models/%C0%AF", "openai"),
        ("POST", "/v1beta/models/%ff:generateContent", "gemini"),
        ("POST", "/v1beta/models/x:generateContent?key=%fe", "gemini"),
        ("POST", "/v1beta/models/sl%252Fash:generateContent", "gemini"),
        ("GET", "/admin/v1/keys/%ff", "openai"),
        ("POST", "/v1/messages/count_tokens", "anthropic"),
        ("GET", "/v1/messages", "anthropic"),
        ("DELETE", "/v1/chat/completions", "openai"),
        ("GET", "/v1/nowhere?key=" + KEY, "openai"),
    ]
    cases += [Probe(method, path, contents + b"}", shape) for method, path, shape in paths]
    cases += [
        Probe("POST", path, b"\x00\x00\x00\x00\x00", shape, (("content-type", "application/grpc"),))
        for path, shape in ((chat, "openai"), (messages, "anthropic"), (gemini, "gemini"))
    ]
    cases += [Probe("POST", chat, b"{}", "openai", (("x-big", "y" * 70 * 1024),))]
    return cases


def _shape_ok(shape: str, body: bytes) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return False
    if shape == "anthropic":
        return value.get("type") == "error" and isinstance(
            value.get("error", {}).get("message"), str
        )
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return False
    if shape == "gemini":
        return isinstance(error.get("code"), int) and isinstance(error.get("status"), str)
    return set(error) == {"message", "type", "param", "code"}


def _hand_written(stack: Stack, findings: Findings) -> None:
    cases = probes()

    def send(probe: Probe) -> str | None:
        headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
        headers.update(dict(probe.headers))
        try:
            answer = httpx.request(
                probe.method,
                stack.rest_url + probe.path,
                content=probe.body,
                headers=headers,
                timeout=TIMEOUT,
            )
        except httpx.TimeoutException:
            return "hang"
        if answer.status_code >= 500:
            return f"{answer.status_code}"
        if answer.status_code < 400:
            return None  # served: not bad after all (a name that decodes to a model, say)
        if not _shape_ok(probe.shape, answer.content):
            return f"{answer.status_code} not in {probe.shape}'s shape: {answer.content[:120]!r}"
        if KEY in answer.text:
            return "the key is echoed"
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, cases))
    for probe, outcome in zip(cases, outcomes, strict=True):
        if outcome is not None:
            findings.failures.append(
                f"{probe.method} {probe.path[:60]} {probe.body[:40]!r}: {outcome}"
            )
    findings.figures["hand-written cases"] = len(cases)
    findings.figures["hand-written: 5xx"] = sum(1 for o in outcomes if o and o[0] == "5")
    findings.figures["hand-written: hangs"] = outcomes.count("hang")


def _cut_spec(folder: Path) -> Path:
    """OpenAI's specification with only the operations this gateway serves."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["paths"] = {path: spec["paths"][path] for path in OPERATIONS}
    for path in ("/models", "/models/{model}"):
        spec["paths"][path] = {"get": spec["paths"][path]["get"]}
    cut = folder / "openapi.yaml"
    cut.write_text(yaml.safe_dump(spec))
    return cut


def _schemathesis(stack: Stack, findings: Findings, seconds: int) -> None:
    if not SPEC.exists():
        findings.failures.append(f"schemathesis not run: no OpenAI specification at {SPEC}")
        return
    with tempfile.TemporaryDirectory() as folder:
        spec = _cut_spec(Path(folder))
        for mode in ("positive", "negative"):
            report = Path(folder) / f"{mode}.ndjson"
            command = [
                sys.executable, "-m", "schemathesis.cli", "run", str(spec),
                "--url", f"{stack.rest_url}/v1",
                "-H", f"Authorization: Bearer {KEY}",
                "--checks", "not_a_server_error",
                "--mode", mode,
                "--phases", "examples,coverage,fuzzing",
                "--max-time", str(seconds),
                "--max-response-time", str(TIMEOUT),
                "--request-timeout", str(TIMEOUT),
                "--workers", "2",
                "--seed", "20261201",
                "--generation-database", "none",
                "--report", "ndjson", "--report-ndjson-path", str(report),
                "--no-color",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
            cases, failures = _count(report)
            findings.figures[f"schemathesis {mode}: cases"] = cases
            findings.figures[f"schemathesis {mode}: failures"] = failures
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
                findings.failures.append(f"schemathesis {mode} failed:\n" + "\n".join(tail))


def _count(report: Path) -> tuple[int, int]:
    """Test cases run and checks failed, from schemathesis' NDJSON events."""
    cases = failures = 0
    if not report.exists():
        return 0, 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, payload in event.items():
            if name == "ScenarioFinished" and isinstance(payload, dict):
                recorder = payload.get("recorder") or {}
                cases += len(recorder.get("cases") or {})
                for checks in (recorder.get("checks") or {}).values():
                    failures += sum(1 for c in checks if c.get("status") == "FAILURE")
    return cases, failures


def run(stack: Stack, schemathesis_seconds: int | None) -> Findings:
    """Hand-written cases always; schemathesis when given a time budget."""
    findings = Findings("bad input")
    _hand_written(stack, findings)
    if schemathesis_seconds:
        _schemathesis(stack, findings, schemathesis_seconds)
    return findings

"""One structured log line per request; keys and prompts never appear in the logs."""

from __future__ import annotations

import json
import subprocess
import sys

import openai

from tests.support.stack import KEY, OTHER_KEY, Stack


def test_one_line_per_request_without_secrets(stack: Stack, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "a secret prompt"}],
        extra_headers={"x-request-id": "log-check-1"},
    )
    other = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=OTHER_KEY, max_retries=0)
    other.completions.create(
        model="gpt-echo", prompt="p", extra_headers={"x-request-id": "log-check-2"}
    )
    lines = stack.log_lines()
    entries = [
        json.loads(line) for line in lines if line.startswith("{") and '"event":"request"' in line
    ]
    first = [e for e in entries if e["request_id"] == "log-check-1"]
    second = [e for e in entries if e["request_id"] == "log-check-2"]
    assert len(first) == 1 and len(second) == 1
    assert first[0]["caller"] == "tester" and second[0]["caller"] == "other"
    for field in (
        "model",
        "upstream",
        "status",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    ):
        assert field in first[0], field
    assert first[0]["status"] == 200 and first[0]["total_tokens"] == 6
    assert second[0]["endpoint"] == "completions"
    text = "\n".join(lines)
    for secret in (KEY, OTHER_KEY, "sk-upstream-secret-1", "a secret prompt"):
        assert secret not in text


def test_records_do_not_collect_what_a_line_never_shows() -> None:
    # The caller's file and line, thread and process cost half of a line's CPU to collect.
    script = (
        "import logging, sys\n"
        "from llm_gateway.logs import configure_logging\n"
        "configure_logging()\n"
        "seen = []\n"
        "logging.getLogger().addHandler(type('H', (logging.Handler,), {'emit': "
        "lambda self, record: seen.append(record)})())\n"
        "logging.getLogger('llm_gateway.access').info('request')\n"
        "(record,) = seen\n"
        "print(record.lineno, record.thread, record.process, record.processName)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["0", "None", "None", "None"]


def test_access_lines_are_the_same_written_directly_or_through_logging() -> None:
    # While only the installed handler would see a line, it is written straight to its
    # stream; a handler added later gets every line through `logging`, in the same shape.
    script = (
        "import logging, sys\n"
        "from llm_gateway.logs import ACCESS, configure_logging, log_request\n"
        "configure_logging(sys.argv[1])\n"
        "log_request({'event': 'request', 'status': 200, 'model': 'm'})\n"
        "seen = []\n"
        "ACCESS.addHandler(type('H', (logging.Handler,), {'emit': "
        "lambda self, record: seen.append(record.fields)})())\n"
        "log_request({'event': 'request', 'status': 200, 'model': 'm'})\n"
        "print(seen)\n"
    )

    def run(level: str) -> tuple[list[dict[str, object]], str]:
        done = subprocess.run(
            [sys.executable, "-c", script, level], capture_output=True, text=True, check=True
        )
        lines = [json.loads(line) for line in done.stderr.splitlines()]
        for line in lines:
            assert isinstance(line.pop("ts"), float)
        return lines, done.stdout.strip()

    lines, seen = run("INFO")
    assert lines == [{"event": "request", "status": 200, "model": "m"}] * 2
    assert seen == "[{'event': 'request', 'status': 200, 'model': 'm'}]"
    assert run("WARNING") == ([], "[]")


def test_a_closed_log_stream_fails_the_line_not_the_request() -> None:
    script = (
        "import logging, sys\n"
        "from llm_gateway.logs import configure_logging, log_request\n"
        "configure_logging()\n"
        "logging.raiseExceptions = False\n"
        "sys.stderr.close()\n"
        "log_request({'event': 'request', 'status': 200})\n"
        "print('served')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"

"""Virtual keys and usage records on the embedded SQLite store: the key lifecycle through the
CLI, HMAC-only storage, allow-lists, and one usage record per request (completed, failed,
cancelled) with none lost on SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from llm_gateway.limits import estimate_prompt
from tests.support.databases import fresh_postgres_database, query
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Stack, free_port, run_once, stack_config, start_stack

SECRET = "test-secret-0123456789"


def keys_cli(config: Path, *args: str) -> Any:
    """Runs `llm-gateway keys ... --json` and returns its parsed output."""
    result = subprocess.run(
        [sys.executable, "-m", "llm_gateway", "keys", *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def keyed(
    request: pytest.FixtureRequest,
    upstream: ScriptedUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The stack on each kind of store (PostgreSQL: a server of the tests' own)."""
    folder = tmp_path_factory.mktemp(f"keyed-{request.param}")
    if request.param == "sqlite":
        database = f"sqlite:///{folder}/gateway.db"
    else:
        database = fresh_postgres_database(request.getfixturevalue("postgres_url"), "keyed")
    config = stack_config(
        upstream.base_url,
        storage={
            "database": database,
            "key_secret": SECRET,
            "key_cache_seconds": 0.2,
            "usage_flush_seconds": 0.1,
        },
        prices={"echo": {"input_per_million": 1000, "output_per_million": 2000}},
    )
    stack = start_stack(folder, config)
    yield stack
    stack.stop()


def config_path(stack: Stack) -> Path:
    return stack.log_path.parent / "gateway.yaml"


def database(stack: Stack) -> str:
    return str(stack.config["storage"]["database"])


def sdk(stack: Stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=key, max_retries=0, timeout=20)


def usage_rows(stack: Stack, request_id: str, limit: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + limit
    while True:
        rows = query(
            database(stack), "SELECT * FROM usage_records WHERE request_id = ?", request_id
        )
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_key_lifecycle(keyed: Stack) -> None:
    created = keys_cli(
        config_path(keyed), "create", "--name", "alice", "--owner", "team-a", "--models", "gpt-echo"
    )
    key = created["key"]
    assert key.startswith("sk-gw-") and created["prefix"] == key[:10] + "..."
    client = sdk(keyed, key)
    assert client.chat.completions.create(
        model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
    ).choices
    assert [m.id for m in client.models.list()] == ["gpt-echo"]  # only what the key allows
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(
            model="claude-echo", messages=[{"role": "user", "content": "hi"}]
        )
    listed = keys_cli(config_path(keyed), "list")
    assert [k["id"] for k in listed].count(created["id"]) == 1
    assert key not in json.dumps(listed)  # never shown again
    keys_cli(config_path(keyed), "update", created["id"], "--models", "gpt-*", "claude-*")
    time.sleep(0.3)  # the gateway's key cache
    assert client.chat.completions.create(
        model="claude-echo", messages=[{"role": "user", "content": "hi"}]
    ).choices
    keys_cli(config_path(keyed), "update", created["id"], "--disable")
    time.sleep(0.3)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    keys_cli(config_path(keyed), "update", created["id"], "--enable")
    time.sleep(0.3)
    assert client.models.list().data
    revoked = keys_cli(config_path(keyed), "revoke", created["id"])
    assert revoked["revoked_at"] is not None
    time.sleep(0.3)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_expired_key_is_refused(keyed: Stack) -> None:
    created = keys_cli(
        config_path(keyed), "create", "--name", "brief", "--expires-in-days", "0.00001"
    )
    time.sleep(1.0)
    with pytest.raises(openai.AuthenticationError):
        sdk(keyed, created["key"]).models.list()


def test_only_keyed_hashes_are_stored_or_logged(keyed: Stack) -> None:
    created = keys_cli(config_path(keyed), "create", "--name", "hashed")
    key = created["key"]
    sdk(keyed, key).chat.completions.create(
        model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
    )
    (stored,) = query(database(keyed), "SELECT * FROM api_keys WHERE id = ?", created["id"])
    assert stored["digest"] == hmac.new(SECRET.encode(), key.encode(), hashlib.sha256).hexdigest()
    assert stored["digest"] != hashlib.sha256(key.encode()).hexdigest()
    rows = query(database(keyed), "SELECT * FROM api_keys") + query(
        database(keyed), "SELECT * FROM usage_records"
    )
    assert key not in repr(rows)
    if database(keyed).startswith("sqlite:///"):
        path = Path(database(keyed).removeprefix("sqlite:///"))
        # The database, its WAL and shared memory, and the usage journal's segments.
        for file in (*path.parent.glob(path.name + "*"), *path.parent.glob("*.usage-journal/*")):
            if file.is_file():
                assert key.encode() not in file.read_bytes()
    assert key not in keyed.log_path.read_text()


GO = {"role": "user", "content": "go"}


def test_usage_records_for_completed_failed_and_cancelled(
    keyed: Stack, upstream: ScriptedUpstream
) -> None:
    created = keys_cli(config_path(keyed), "create", "--name", "metered")
    client = sdk(keyed, created["key"])
    client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "one two three"}],
        extra_headers={"x-request-id": "vk-done"},
    )
    (done,) = usage_rows(keyed, "vk-done")
    assert (done["key_name"], done["key_id"], done["model"]) == (
        "metered",
        created["id"],
        "gpt-echo",
    )
    assert (done["prompt_tokens"], done["completion_tokens"], done["status"]) == (3, 3, 200)
    assert done["cost"] == pytest.approx((3 * 1000 + 3 * 2000) / 1_000_000)
    assert done["deployment"] == "scripted/echo" and not done["estimated"] and not done["cancelled"]
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="gpt-server-error",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-request-id": "vk-failed"},
        )
    (failed,) = usage_rows(keyed, "vk-failed")
    assert failed["status"] == 502 and failed["completion_tokens"] == 0
    stream = client.chat.completions.create(
        model="gpt-slow",
        messages=[GO],
        stream=True,
        extra_headers={"x-request-id": "vk-cancelled"},
    )
    for index, _ in enumerate(stream):
        if index == 5:
            break
    stream.close()
    upstream.wait_closed("vk-cancelled")
    (cancelled,) = usage_rows(keyed, "vk-cancelled")
    assert cancelled["cancelled"] and cancelled["estimated"] and cancelled["status"] == 499
    assert cancelled["completion_tokens"] >= 4  # counted from what was streamed
    # The upstream billed the prompt though its usage never came: the estimate is recorded.
    assert cancelled["prompt_tokens"] == estimate_prompt({"messages": [GO]}) > 0
    broken = client.chat.completions.create(
        model="gpt-fail-midstream",
        messages=[GO],
        stream=True,
        extra_headers={"x-request-id": "vk-broken"},
    )
    with pytest.raises(openai.APIError):
        list(broken)
    (cut,) = usage_rows(keyed, "vk-broken")
    assert cut["estimated"] and cut["prompt_tokens"] == estimate_prompt({"messages": [GO]})
    report = keys_cli(config_path(keyed), "usage", "--key", "metered")
    by_model = {row["model"]: row for row in report}
    assert by_model["gpt-echo"]["requests"] == 1 and by_model["gpt-echo"]["completion_tokens"] == 3
    assert by_model["gpt-server-error"]["failed"] == 1
    assert by_model["gpt-slow"]["cancelled"] == 1 and by_model["gpt-slow"]["estimated"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_usage_record_is_lost_on_sigterm(
    request: pytest.FixtureRequest, upstream: ScriptedUpstream, tmp_path: Path, backend: str
) -> None:
    if backend == "sqlite":
        database = f"sqlite:///{tmp_path}/g.db"
    else:
        database = fresh_postgres_database(request.getfixturevalue("postgres_url"), "sigterm")
    config = stack_config(
        upstream.base_url,
        # A long flush interval: the records are still waiting when SIGTERM arrives.
        storage={"database": database, "key_secret": SECRET, "usage_flush_seconds": 60},
    )
    stack = start_stack(tmp_path, config)
    try:
        created = keys_cli(tmp_path / "gateway.yaml", "create", "--name", "burst")
        client = sdk(stack, created["key"])
        for index in range(40):
            client.chat.completions.create(
                model="gpt-echo",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-request-id": f"burst-{index}"},
            )
    finally:
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(30) == 0
    rows = query(database, "SELECT * FROM usage_records WHERE key_name = 'burst'")
    assert len(rows) == 40


# A config without keys, whose upstream is never called.
BARE = {
    "providers": {"up": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}},
    "models": {"m": {"provider": "up", "model": "x"}},
}


def test_config_without_keys_needs_storage(tmp_path: Path) -> None:
    result = run_once(tmp_path, BARE)
    assert result.returncode == 2 and "keys: at least one key is needed" in result.stderr


def test_unreachable_database_fails_at_start_without_its_password(tmp_path: Path) -> None:
    database = f"postgresql://gw:topsecret-pw@127.0.0.1:{free_port()}/gw"
    result = run_once(tmp_path, {**BARE, "storage": {"database": database, "key_secret": SECRET}})
    assert result.returncode == 2
    assert "cannot open the database postgresql://gw:***@127.0.0.1" in result.stderr
    assert "topsecret-pw" not in result.stderr + result.stdout

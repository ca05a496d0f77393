"""`llm-gateway keys ...`: virtual keys and their usage, managed straight in the database.

- `keys create --name N [--owner O] [--models 'gpt-4o*' ...] [--rpm N] [--tpm N]
  [--budget-tokens N] [--budget-cost X] [--budget-period day|month|total]
  [--expires-in-days D] [--metadata k=v ...]`: prints the new key, once.
- `keys list`: every key, without the key itself.
- `keys update ID [the options of create] [--enable | --disable]`.
- `keys revoke ID`.
- `keys usage [--key NAME] [--days N]`: usage per key, model and day.

Every command takes `--config FILE` (the gateway's) and `--json` for machine-readable output.
The running gateway sees changes within its `key_cache_seconds`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from typing import Any

import orjson

from llm_gateway.auth.key_admin import PERIODS, KeyAdmin
from llm_gateway.auth.virtual_keys import VirtualKey
from llm_gateway.config import GatewaySettings
from llm_gateway.errors import GatewayError
from llm_gateway.store import KeyNotFound, open_store

_DAY = 86_400


def add_parser(commands: Any) -> None:
    """Adds `keys` and its subcommands to the top-level parser's subcommands."""
    keys = commands.add_parser(
        "keys", help="manage virtual keys", description=__doc__.split("\n\n")[0]
    )
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a key (shown once)")
    update = actions.add_parser("update", help="change a key's settings")
    update.add_argument("key_id")
    for sub in (create, update):
        sub.add_argument("--name", required=sub is create)
        sub.add_argument("--owner")
        sub.add_argument("--models", nargs="+", help="allowed public models, shell patterns")
        sub.add_argument("--rpm", type=int, help="requests per minute")
        sub.add_argument("--tpm", type=int, help="tokens per minute")
        sub.add_argument("--budget-tokens", type=int)
        sub.add_argument("--budget-cost", type=float)
        sub.add_argument("--budget-period", choices=PERIODS)
        sub.add_argument("--expires-in-days", type=float)
        sub.add_argument("--metadata", nargs="+", metavar="KEY=VALUE")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    revoke = actions.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id")
    actions.add_parser("list", help="list keys (never the keys themselves)")
    usage = actions.add_parser("usage", help="usage per key, model and day")
    usage.add_argument("--key", help="only this key name")
    usage.add_argument("--days", type=int, default=30)
    for sub in (create, update, revoke, actions.choices["list"], usage):
        sub.add_argument("--config", required=True, help="the gateway's YAML config file")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--log-level", default="WARNING", help=argparse.SUPPRESS)


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("name", "owner", "rpm", "tpm", "budget_tokens", "budget_cost", "budget_period"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    if args.models:
        changes["models"] = tuple(args.models)
    if args.expires_in_days is not None:
        changes["expires_at"] = time.time() + args.expires_in_days * _DAY
    if args.metadata:
        pairs = [item.partition("=") for item in args.metadata]
        changes["metadata"] = {key: value for key, _, value in pairs}
    if getattr(args, "enabled", None) is not None:
        changes["enabled"] = args.enabled
    return changes


def _key_fields(key: VirtualKey) -> dict[str, Any]:
    return {**asdict(key), "models": list(key.models)}


async def run(args: argparse.Namespace, settings: GatewaySettings) -> int:
    """Runs one `keys` command; returns the exit status."""
    if settings.storage is None:
        print("llm-gateway: virtual keys need a `storage` section in the config", file=sys.stderr)
        return 2
    store = open_store(settings.storage.database)
    try:
        await store.migrate()
        admin = KeyAdmin(store, settings.storage.key_secret.get_secret_value().encode())
        return await _dispatch(args, admin)
    except KeyNotFound as missing:
        print(f"llm-gateway: no key with id {missing}", file=sys.stderr)
        return 1
    except GatewayError as refused:
        print(f"llm-gateway: {refused.message}", file=sys.stderr)
        return 2
    finally:
        await store.close()


async def _dispatch(args: argparse.Namespace, admin: KeyAdmin) -> int:
    if args.action == "create":
        secret_key, key = await admin.create(_changes(args))
        text = f"{secret_key}\n(id {key.id}; shown once)"
        _print(args, {"key": secret_key, **_key_fields(key)}, text)
    elif args.action == "update":
        key = await admin.update(args.key_id, _changes(args))
        _print(args, _key_fields(key), f"updated {key.id}")
    elif args.action == "revoke":
        key = await admin.revoke(args.key_id)
        _print(args, _key_fields(key), f"revoked {key.id}")
    elif args.action == "list":
        keys = await admin.list_keys()
        lines = [
            f"{k.id}  {k.prefix}  {k.name}  {_state(k)}  models={','.join(k.models)}" for k in keys
        ]
        _print(args, [_key_fields(k) for k in keys], "\n".join(lines) or "(no keys)")
    else:
        rows = await admin.usage(args.days, args.key)
        lines = [
            f"{r.day}  {r.key_name}  {r.model}  requests={r.requests}  prompt={r.prompt_tokens}  "
            f"completion={r.completion_tokens}  cost={r.cost:.6f}  failed={r.failed}  "
            f"cancelled={r.cancelled}  estimated={r.estimated}"
            for r in rows
        ]
        _print(args, [asdict(r) for r in rows], "\n".join(lines) or "(no usage)")
    return 0


def _state(key: VirtualKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if not key.enabled:
        return "disabled"
    if key.expires_at is not None and key.expires_at <= time.time():
        return "expired"
    return "active"


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(text + "\n")

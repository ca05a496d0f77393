"""`llm-gateway models --config FILE [--json]`: the models the config serves, what each serves
and what it costs, as every model object of `GET /v1/models` says (its `llm_gateway` member),
with the deployments that serve it (the offline default's where it stands in)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from llm_gateway.config import GatewaySettings
from llm_gateway.config.offline import served_models


def add_parser(commands: Any) -> None:
    """Adds `models` to the top-level parser's subcommands."""
    sub = commands.add_parser(
        "models", help="list the models, their operations and prices", description=__doc__
    )
    sub.add_argument("--config", required=True, help="the gateway's YAML config file")
    sub.add_argument("--json", action="store_true", help="machine-readable output")


def rows(settings: GatewaySettings) -> list[dict[str, Any]]:
    """One row per public model, in configuration order."""
    listed = []
    for name, model in served_models(settings).models.items():
        price = settings.prices.get(model.deployments[0].model)
        listed.append(
            {
                "model": name,
                "operations": list(model.operations),
                "deployments": [d.label for d in model.deployments],
                "price": price.listed() if price is not None else None,
            }
        )
    return listed


# The price columns after the model's name and operations, by the price's member names.
_PRICE_COLUMNS = (
    ("input/M", "input_per_million"),
    ("cached/M", "cached_input_per_million"),
    ("output/M", "output_per_million"),
    ("per image", "per_image"),
    ("chars/M", "per_million_characters"),
    ("per minute", "per_minute"),
)


def _price_cell(price: dict[str, Any], member: str) -> str:
    value = price.get(member)
    if isinstance(value, dict):  # per image, by kind
        return ",".join(f"{kind}={each:g}" for kind, each in value.items()) or "-"
    return "-" if value is None else f"{value:g}"


def _table(listed: list[dict[str, Any]]) -> str:
    header = ("model", "operations", *(name for name, _ in _PRICE_COLUMNS), "deployments")
    lines = [header]
    for row in listed:
        price = row["price"] or {}
        lines.append(
            (
                row["model"],
                ",".join(row["operations"]),
                *(_price_cell(price, member) for _, member in _PRICE_COLUMNS),
                ", ".join(row["deployments"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )


def run(args: argparse.Namespace, settings: GatewaySettings) -> int:
    """Prints the models; returns the exit status."""
    listed = rows(settings)
    if args.json:
        sys.stdout.write(orjson.dumps(listed, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(_table(listed) + "\n")
    return 0

"""How virtual keys and usage records map to table columns, for every store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import orjson

from llm_gateway.auth.virtual_keys import SCALAR_SETTINGS, VirtualKey
from llm_gateway.usage.records import USAGE_COLUMNS

# The columns of a key besides `digest`: its fields.
KEY_COLUMNS = tuple(f.name for f in fields(VirtualKey))
KEY_SELECT = ", ".join(KEY_COLUMNS)
UPDATABLE = frozenset((*SCALAR_SETTINGS, "models", "metadata", "revoked_at"))
_JSON = frozenset(("models", "metadata"))


def column_value(name: str, value: Any) -> Any:
    """A key setting as stored: the lists `models` and `metadata` as JSON text."""
    if name == "models":
        return orjson.dumps(list(value)).decode()
    if name in _JSON:
        return orjson.dumps(value).decode()
    return value


def key_values(key: VirtualKey, digest: str) -> tuple[Any, ...]:
    """The values of a new key's row: its digest, then `KEY_COLUMNS`."""
    return (digest, *(column_value(name, getattr(key, name)) for name in KEY_COLUMNS))


def key_from_row(row: Mapping[str, Any]) -> VirtualKey:
    """A key from a row of `KEY_COLUMNS`."""
    values = {name: row[name] for name in KEY_COLUMNS}
    values["models"] = tuple(orjson.loads(values["models"]))
    values["metadata"] = orjson.loads(values["metadata"])
    values["enabled"] = bool(values["enabled"])
    return VirtualKey(**values)


def insert(table: str, columns: tuple[str, ...], placeholders: list[str]) -> str:
    """An INSERT of `columns` with the driver's placeholders."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(placeholders)})"


def insert_key(placeholder: Any) -> str:
    """The INSERT of a key; `placeholder(n)` writes the driver's n-th parameter (from 1)."""
    columns = ("digest", *KEY_COLUMNS)
    return insert("api_keys", columns, [placeholder(n) for n in range(1, len(columns) + 1)])


def insert_usage(placeholder: Any) -> str:
    """The INSERT of a usage record (see `usage_values`)."""
    return insert(
        "usage_records",
        USAGE_COLUMNS,
        [placeholder(n) for n in range(1, len(USAGE_COLUMNS) + 1)],
    )

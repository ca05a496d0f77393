"""A response's input items as the store keeps them and `input_items` lists them.

The caller's `input` is made a list of whole items, each with an id: a string is one user
message; a message's string content is one text part (`input_text`, or `output_text` for an
assistant's); an `item_reference` is replaced by the item it names among the earlier items
of the conversation (so a stored input never depends on another response's row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from llm_gateway.api.responses.response import new_id
from llm_gateway.errors import invalid_request
from llm_gateway.store.responses import StoredResponse

# A `list` page's size when the caller gives none, and the largest it may ask for.
DEFAULT_PAGE, LARGEST_PAGE = 20, 100
# The id prefix of each kind of item the gateway names.
_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


def _whole(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type", "message")
    whole = {**item, "type": kind}
    if kind == "message":
        content = item.get("content", "")
        if isinstance(content, str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            whole["content"] = [{"type": part, "text": content}]
        whole.setdefault("status", "completed")
    if not whole.get("id") and kind in _PREFIXES:
        whole = {"id": new_id(_PREFIXES[kind]), **whole}
    return whole


def input_items(given: Any, earlier: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's input as whole items with ids, references resolved against `earlier`."""
    if isinstance(given, str):
        return [_whole({"type": "message", "role": "user", "content": given})]
    known = {item["id"]: item for item in earlier if item.get("id")}
    items = []
    for index, item in enumerate(given or ()):
        if item.get("type") == "item_reference":
            found = known.get(item.get("id"))
            if found is None:
                raise invalid_request(
                    f"'input[{index}].id': no item {item.get('id')!r} in the responses that "
                    "'previous_response_id' continues.",
                    f"input[{index}].id",
                    "item_not_found",
                )
            items.append(found)
        else:
            items.append(_whole(item))
    return items


def conversation(chain: Iterable[StoredResponse]) -> list[dict[str, Any]]:
    """The items of stored responses in order: each one's input, then its output."""
    items: list[dict[str, Any]] = []
    for stored in chain:
        items += orjson.loads(stored.input_items)
        items += orjson.loads(stored.response)["output"]
    return items


def page(items: Sequence[dict[str, Any]], after: str, limit: int, order: str) -> dict[str, Any]:
    """A `list` page of items: `order` `asc` or `desc`, from the one after `after`."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    if after:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise invalid_request(f"'after': no item {after!r} in this list.", "after")
        ordered = ordered[ids.index(after) + 1 :]
    data = ordered[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": len(ordered) > limit,
    }


def page_request(limit: int | None, order: str) -> tuple[int, str]:
    """The page size and order a caller asked for, checked (defaults: 20, newest first)."""
    limit = DEFAULT_PAGE if limit is None else limit
    if not 1 <= limit <= LARGEST_PAGE:
        raise invalid_request(
            f"Invalid 'limit': expected a value from 1 to {LARGEST_PAGE}, got {limit}.",
            "limit",
            "invalid_value",
        )
    order = order or "desc"
    if order not in ("asc", "desc"):
        raise invalid_request(
            f"Invalid 'order': expected 'asc' or 'desc', got {order!r}.", "order", "invalid_value"
        )
    return limit, order

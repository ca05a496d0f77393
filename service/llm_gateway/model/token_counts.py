"""Bounds of the token counts a caller may ask for.

Every surface checks its own fields (`max_tokens`, Anthropic's `max_tokens`, Gemini's
`maxOutputTokens`) with `check_count` before a request reaches the limits, so an error names
the caller's field; the limiter clamps what reaches it with `bounded` all the same, so a count
that slipped past a surface can never reserve a negative or an absurd amount.
"""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import invalid_request

# The largest count any API of the family takes (Gemini's and the typed API's fields are int32).
MAX_TOKEN_COUNT = 2**31 - 1


def check_count(value: Any, param: str, minimum: int = 1) -> None:
    """Raises a 400 naming `param` unless `value` is absent or a whole number in bounds."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_request(
            f"Invalid type for '{param}': expected an integer.", param, "invalid_type"
        )
    if value < minimum:
        raise invalid_request(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param,
            "integer_below_min_value",
        )
    if value > MAX_TOKEN_COUNT:
        raise invalid_request(
            f"Invalid '{param}': integer above maximum value. Expected a value <= "
            f"{MAX_TOKEN_COUNT}, but got {value} instead.",
            param,
            "integer_above_max_value",
        )


def bounded(value: Any, default: int) -> int:
    """A count for the limiter: `value` when it is a whole number in bounds, clamped into
    them when it is out of them, `default` when it is not a number at all."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return min(max(value, 0), MAX_TOKEN_COUNT)

"""Checks of the fields of a caller's request, shared by the surfaces that validate by their
own API's rules (Anthropic's, Gemini's). Each failure is a 400 naming the caller's field as
the caller named it; an absent (None) field passes every check but `required`."""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.token_counts import MAX_TOKEN_COUNT


def _refuse(param: str, problem: str) -> GatewayError:
    return invalid_request(f"{param}: {problem}", param, "invalid_value")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def required(value: Any, param: str) -> None:
    """The field must be present."""
    if value is None:
        raise invalid_request(f"{param}: Field required", param, "missing_required_parameter")


def number(value: Any, param: str, low: float, high: float) -> None:
    """A number within [low, high]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(param, "Input should be a valid number")
    if value < low:
        raise _refuse(param, f"Input should be greater than or equal to {_number(low)}")
    if value > high:
        raise _refuse(param, f"Input should be less than or equal to {_number(high)}")


def integer(value: Any, param: str, low: int, high: int = MAX_TOKEN_COUNT) -> None:
    """A whole number within [low, high]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(param, "Input should be a valid integer")
    number(value, param, low, high)


def boolean(value: Any, param: str) -> None:
    """True or false."""
    if value is not None and not isinstance(value, bool):
        raise _refuse(param, "Input should be a valid boolean")


def text(value: Any, param: str) -> None:
    """A string."""
    if value is not None and not isinstance(value, str):
        raise _refuse(param, "Input should be a valid string")


def mapping(value: Any, param: str) -> None:
    """A JSON object."""
    if value is not None and not isinstance(value, dict):
        raise _refuse(param, "Input should be a valid object")


def strings(value: Any, param: str, most: int | None = None) -> None:
    """A list of strings, of at most `most` items when given."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(param, "Input should be a valid list of strings")
    if most is not None and len(value) > most:
        raise _refuse(param, f"List should have at most {most} items, not {len(value)}")


def items(value: Any, param: str, at_least: int = 0) -> list[Any]:
    """A list (of at least `at_least` items); returns it, empty when absent."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _refuse(param, "Input should be a valid list")
    if len(value) < at_least:
        raise _refuse(param, f"List should have at least {at_least} item(s)")
    return value


def one_of(value: Any, param: str, allowed: tuple[str, ...]) -> None:
    """One of the `allowed` words."""
    if value is not None and value not in allowed:
        words = ", ".join(repr(word) for word in allowed)
        raise _refuse(param, f"Input should be one of {words}")

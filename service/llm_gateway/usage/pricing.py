"""The cost of a request, from the configured price of the upstream model that served it."""

from __future__ import annotations

from collections.abc import Mapping

from llm_gateway.config.settings import Price
from llm_gateway.usage.accounting import Usage

_MILLION = 1_000_000


def cost(prices: Mapping[str, Price], upstream_model: str | None, usage: Usage) -> float | None:
    """The cost of `usage` on `upstream_model`; None when the model has no configured price."""
    price = prices.get(upstream_model or "")
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = price.cached_input_per_million
    if cached_price is None:
        cached_price = price.input_per_million
    return (
        (usage.prompt_tokens - cached) * price.input_per_million
        + cached * cached_price
        + usage.completion_tokens * price.output_per_million
    ) / _MILLION

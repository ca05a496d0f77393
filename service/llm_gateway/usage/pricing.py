"""The cost of a request, from the configured price of the upstream model that served it."""

from __future__ import annotations

from collections.abc import Mapping

from llm_gateway.config.settings import Price
from llm_gateway.usage.accounting import Usage

_MILLION = 1_000_000


def cost(prices: Mapping[str, Price], upstream_model: str | None, usage: Usage) -> float | None:
    """The cost of `usage` on `upstream_model`: its tokens, and its images at the price of
    their kind; None when the model has no configured price, or images of a kind it has none
    for (a cost that leaves them out would be too low)."""
    price = prices.get(upstream_model or "")
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = price.cached_input_per_million
    if cached_price is None:
        cached_price = price.input_per_million
    tokens = (
        (usage.prompt_tokens - cached) * price.input_per_million
        + cached * cached_price
        + usage.completion_tokens * price.output_per_million
        + usage.characters * price.per_million_characters
    ) / _MILLION + usage.seconds / 60 * price.per_minute
    if not usage.images or not price.per_image:
        return tokens
    each = price.image_price(usage.image_kind)
    return None if each is None else tokens + usage.images * each

"""Rate limits: requests and tokens per minute, per key and per model."""

from llm_gateway.limits.admission import (
    Limiter,
    Limits,
    RateLimiter,
    Ticket,
    Units,
    estimate_prompt,
    estimate_tokens,
)

__all__ = [
    "Limiter",
    "Limits",
    "RateLimiter",
    "Ticket",
    "Units",
    "estimate_prompt",
    "estimate_tokens",
]

"""Chooses a deployment: by weight, and away from the busier of two.

Weighted power of two choices: two distinct candidates are drawn with probability
proportional to weight, and the one with fewer requests in flight per unit of weight wins (the
first drawn on a tie). With nothing in flight the first draw always wins, so sequential traffic
follows the weights exactly in expectation; under load, a slow or saturated deployment gets
fewer new requests than its weight alone would give it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from llm_gateway.routing.deployment import Deployment


def _draw(candidates: list[Deployment], rng: random.Random) -> Deployment:
    return rng.choices(candidates, weights=[d.weight for d in candidates])[0]


def choose(candidates: Sequence[Deployment], rng: random.Random) -> Deployment:
    """Returns one of `candidates` (which must not be empty)."""
    pool = list(candidates)
    if len(pool) == 1:
        return pool[0]
    first = _draw(pool, rng)
    pool.remove(first)
    second = _draw(pool, rng)
    if second.in_flight / second.weight < first.in_flight / first.weight:
        return second
    return first

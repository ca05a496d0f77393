"""Admits requests within the requests-per-minute and tokens-per-minute limits of their key
and their model, and reports the remaining capacity the way OpenAI does.

Tokens are reserved at admission: an estimate of the prompt (a token per four characters of
the request's messages or prompt) plus the most the answer may take (`max_tokens`, or the
configured default; for images and audio, what `Units` counts them as). When the request
ends, its reservation is settled to the tokens really used, so the limit tracks real use while
concurrent requests can never together go past it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from llm_gateway.errors import GatewayError
from llm_gateway.limits.budget import Amount
from llm_gateway.limits.window import Reservation, SlidingWindow
from llm_gateway.model.token_counts import MAX_TOKEN_COUNT, bounded
from llm_gateway.usage.accounting import Usage

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-minute limits of one scope (a key or a model); None is unlimited."""

    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class Units:
    """What the work of the image and audio APIs counts as in tokens, for limits and budgets
    that count tokens: an image made, a second of audio heard (`limits.tokens_per_image`,
    `limits.tokens_per_audio_second`)."""

    tokens_per_image: int = 0
    tokens_per_audio_second: int = 0

    def asked(self, sizing: Mapping[str, Any]) -> int:
        """The tokens of the images and audio a request's `sizing` names."""
        images = bounded(sizing.get("images"), 0)
        seconds = sizing.get("audio_seconds") or 0
        return images * self.tokens_per_image + math.ceil(seconds) * self.tokens_per_audio_second

    def used(self, usage: Usage) -> int:
        """What a request used, in tokens: its tokens, or its images' and audio's when those
        count for more."""
        made = usage.images * self.tokens_per_image
        heard = math.ceil(usage.seconds) * self.tokens_per_audio_second
        return max(usage.total_tokens, made + heard)


# Without configured units, images and audio count only their tokens.
NO_UNITS = Units()


def estimate_prompt(body: Mapping[str, Any]) -> int:
    """The prompt's tokens estimated from its size: one per four bytes of its JSON."""
    source = body.get("messages", body.get("prompt", ""))
    return math.ceil(len(orjson.dumps(source)) / 4)


def estimate_tokens(
    body: Mapping[str, Any], default_completion: int, units: Units = NO_UNITS
) -> tuple[int, int]:
    """(prompt tokens estimated from the request's size, the most its answers may take: for
    an image or audio request, the tokens its `units` count)."""
    prompt = estimate_prompt(body)
    if "images" in body or "audio_seconds" in body:
        return prompt, min(units.asked(body), MAX_TOKEN_COUNT)
    # Surfaces refuse counts out of bounds; clamped here too, so none can ever reserve less
    # than nothing (and so switch a limit off) or an amount no limit could hold.
    asked = body.get("max_completion_tokens")
    if asked is None:
        asked = body.get("max_tokens")
    limit = bounded(asked, default_completion) if asked is not None else default_completion
    return prompt, min(limit * max(1, bounded(body.get("n"), 1)), MAX_TOKEN_COUNT)


@dataclass(slots=True)
class Ticket:
    """An admitted request's reservations, settled when it ends."""

    headers: Headers
    # What the limiter needs to settle the token reservations (its own business).
    tokens: Any = None
    prompt_estimate: int = 0
    budget_reserved: Amount | None = None  # what was reserved from the key's budget


class RateLimiter(Protocol):
    """Admits requests within per-minute limits and settles their token reservations."""

    async def admit(self, scopes: dict[str, Limits], estimate: tuple[int, int]) -> Ticket:
        """Reserves one request and the estimated tokens in every scope, or raises a 429
        naming the limit reached. `scopes` maps a scope name (`key:...`, `model:...`) to its
        limits; `estimate` is (prompt, completion) tokens."""
        ...

    async def settle(self, ticket: Ticket, tokens_used: int) -> None:
        """Sets the ticket's token reservations to the tokens really used."""
        ...


def refusal(kind: str, limit: int, wait: float, headers: Headers) -> GatewayError:
    """OpenAI's 429 for a reached rate limit."""
    return GatewayError(
        429,
        f"Rate limit reached: {limit} {kind} per minute. Try again in {wait:.1f}s.",
        code=f"rate_limit_{kind}",
        retry_after=str(max(1, math.ceil(wait))),
        headers=headers,
    )


def rate_headers(states: Iterable[tuple[str, int, int, float]]) -> Headers:
    """`x-ratelimit-*` from (kind, limit, used, seconds to reset) of each window: for each kind
    (`requests`, `tokens`), those of the tightest window, the one with the least remaining."""
    tightest: dict[str, tuple[int, int, float]] = {}
    for kind, limit, used, reset in states:
        known = tightest.get(kind)
        if known is None or limit - used < known[0] - known[1]:
            tightest[kind] = (limit, used, reset)
    headers: Headers = ()
    for kind in ("requests", "tokens"):
        if kind in tightest:
            limit, used, reset = tightest[kind]
            headers += (
                (f"x-ratelimit-limit-{kind}", str(limit)),
                (f"x-ratelimit-remaining-{kind}", str(max(0, limit - used))),
                (f"x-ratelimit-reset-{kind}", f"{reset:.3f}s"),
            )
    return headers


class Limiter:
    """The sliding windows of every limited key and model, in this process (no await between
    checking and reserving, so one event loop's requests cannot overrun a limit)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, span: float = 60.0) -> None:
        self._clock = clock
        self._span = span
        self._windows: dict[tuple[str, str], SlidingWindow] = {}

    def _window(self, scope: str, kind: str, limit: int) -> SlidingWindow:
        window = self._windows.get((scope, kind))
        if window is None or window.limit != limit:
            window = self._windows[(scope, kind)] = SlidingWindow(limit, self._span)
        return window

    async def admit(self, scopes: dict[str, Limits], estimate: tuple[int, int]) -> Ticket:
        """See `RateLimiter.admit`."""
        now = self._clock()
        tokens = sum(estimate)
        checks: list[tuple[str, SlidingWindow, int]] = []
        for scope, limits in scopes.items():
            if limits.rpm is not None:
                checks.append(("requests", self._window(scope, "requests", limits.rpm), 1))
            if limits.tpm is not None:
                checks.append(("tokens", self._window(scope, "tokens", limits.tpm), tokens))
        for kind, window, amount in checks:
            if not window.fits(amount, now):
                wait = window.seconds_until_fits(amount, now)
                raise refusal(kind, window.limit, wait, self._headers(checks, now))
        reservations: list[tuple[SlidingWindow, Reservation]] = []
        for kind, window, amount in checks:
            reservation = window.reserve(amount, now)
            if kind == "tokens":
                reservations.append((window, reservation))
        return Ticket(self._headers(checks, now), reservations, estimate[0])

    async def settle(self, ticket: Ticket, tokens_used: int) -> None:
        """See `RateLimiter.settle`."""
        now = self._clock()
        for window, reservation in ticket.tokens or ():
            window.settle(reservation, tokens_used, now)

    @staticmethod
    def _headers(checks: list[tuple[str, SlidingWindow, int]], now: float) -> Headers:
        return rate_headers(
            (kind, w.limit, w.used(now), w.seconds_until_empty(now)) for kind, w, _ in checks
        )

"""A sliding one-minute window of reservations: what a key or model has used lately.

Each admitted request reserves an amount (one request, or its estimated tokens) at its
admission time; a reservation can be settled later to what was really used. The window's use
is the sum of the reservations made in the last `span` seconds. Checking and reserving happen
without an await in between, so concurrent requests on one event loop cannot overrun a limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class Reservation:
    """An amount taken from a window at a moment."""

    at: float
    amount: int


class SlidingWindow:
    """Reservations of the last `span` seconds, against a limit."""

    def __init__(self, limit: int, span: float = 60.0) -> None:
        self.limit = limit
        self._span = span
        self._entries: deque[Reservation] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0].at <= now - self._span:
            self._used -= self._entries.popleft().amount

    def used(self, now: float) -> int:
        """The amount reserved in the window ending at `now`."""
        self._expire(now)
        return self._used

    def fits(self, amount: int, now: float) -> bool:
        """Whether `amount` more stays within the limit."""
        return self.used(now) + amount <= self.limit

    def reserve(self, amount: int, now: float) -> Reservation:
        """Takes `amount` (check `fits` first)."""
        reservation = Reservation(now, amount)
        self._entries.append(reservation)
        self._used += amount
        return reservation

    def settle(self, reservation: Reservation, amount: int, now: float) -> None:
        """Sets a reservation to what was really used (if it is still in the window)."""
        self._expire(now)
        if reservation.at > now - self._span:
            self._used += amount - reservation.amount
        reservation.amount = amount

    def seconds_until_empty(self, now: float) -> float:
        """How long until nothing is reserved (OpenAI's `x-ratelimit-reset-*`): until the
        newest reservation of a positive amount leaves the window. Read from the newest end,
        so it costs one step however many reservations the window holds."""
        self._expire(now)
        for entry in reversed(self._entries):
            if entry.amount > 0:
                return max(0.0, entry.at + self._span - now)
        return 0.0

    def seconds_until_fits(self, amount: int, now: float) -> float:
        """How long until `amount` fits, as reservations leave the window."""
        self._expire(now)
        excess = self._used + amount - self.limit
        for entry in self._entries:
            if excess <= 0:
                break
            excess -= entry.amount
            if excess <= 0:
                return max(0.0, entry.at + self._span - now)
        return 0.0 if excess <= 0 else self._span

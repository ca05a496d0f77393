"""The in-process sliding window: the reset time of the rate-limit headers, read in one step
from the newest end, is the time until the whole limit fits again (the full scan)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llm_gateway.limits.window import SlidingWindow

# (seconds to advance, amount to reserve, amount its reservation is settled to or None)
_STEPS = st.lists(
    st.tuples(
        st.floats(0, 30, allow_nan=False),
        st.integers(0, 500),
        st.one_of(st.none(), st.integers(0, 500)),
    ),
    max_size=60,
)


@given(_STEPS, st.floats(0, 90, allow_nan=False))
def test_the_reset_is_when_the_whole_limit_fits_again(
    steps: list[tuple[float, int, int | None]], later: float
) -> None:
    window = SlidingWindow(limit=1000, span=60.0)
    now = 0.0
    for advance, amount, settled in steps:
        now += advance
        reservation = window.reserve(amount, now)
        if settled is not None:
            window.settle(reservation, settled, now)
        assert window.seconds_until_empty(now) == window.seconds_until_fits(window.limit, now)
    now += later
    assert window.seconds_until_empty(now) == window.seconds_until_fits(window.limit, now)


def test_the_reset_is_the_newest_reservations_expiry() -> None:
    window = SlidingWindow(limit=10, span=60.0)
    window.reserve(3, 0.0)
    window.reserve(4, 10.0)
    assert window.seconds_until_empty(20.0) == 50.0  # the one made at 10 s leaves at 70 s
    settled = window.reserve(2, 30.0)
    window.settle(settled, 0, 30.0)  # used nothing: it holds nothing back
    assert window.seconds_until_empty(30.0) == 40.0
    assert window.seconds_until_empty(80.0) == 0.0

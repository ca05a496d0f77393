"""A background response of the Responses API caught while its upstream call is open, and
the check that an upstream call was cut short soon after."""

from __future__ import annotations

import time

import openai

from tests.support.scripted_upstream import ScriptedUpstream


def running_background(client: openai.OpenAI, upstream: ScriptedUpstream, request_id: str) -> str:
    """Creates a background response on the `slow` scenario (10 s) with `request_id`; returns
    its id once the upstream has the call."""
    queued = client.responses.create(
        model="gpt-slow", input="x", background=True, extra_headers={"x-request-id": request_id}
    )
    assert queued.background is True and queued.status in ("queued", "in_progress")
    deadline = time.monotonic() + 5
    while upstream.find(request_id) is None:
        assert time.monotonic() < deadline, "the background run never called its upstream"
        time.sleep(0.05)
    return queued.id


def closed_within(
    upstream: ScriptedUpstream, request_id: str, since: float, seconds: float
) -> None:
    """The upstream call `request_id` was closed unfinished within `seconds` of `since`
    (a `time.monotonic()` reading)."""
    recorded = upstream.wait_closed(request_id)
    assert not recorded.completed
    assert recorded.closed_at is not None and recorded.closed_at - since < seconds

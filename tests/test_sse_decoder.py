"""The incremental SSE decoder, fed the same stream cut at arbitrary points."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llm_gateway.providers.sse import SseDecoder

EVENTS = [b'{"a": 1}', b'{"text": "caf\xc3\xa9 \xe2\x82\xac"}', b"[DONE]"]
STREAM = (
    b": keep-alive\n\nevent: message\ndata: " + EVENTS[0] + b"\n\n"
    b"data: " + EVENTS[1] + b"\r\n\r\n"
    b"id: 7\ndata:" + EVENTS[2] + b"\n\n"
)


def decode(pieces: list[bytes]) -> list[bytes]:
    decoder = SseDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)]
    return events + decoder.finish()


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode(pieces) == EVENTS


def test_multi_line_data_is_joined() -> None:
    assert decode([b"data: a\ndata: b\n\n"]) == [b"a\nb"]


def test_unterminated_last_event_is_kept_by_finish() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: x") == []
    assert decoder.finish() == [b"x"]

"""An incremental decoder of server-sent events (the `data:` fields of each event)."""

from __future__ import annotations


class EventTooLarge(ValueError):
    """An event (or a line still being received) is larger than the decoder's limit."""


class SseDecoder:
    """Splits a byte stream into SSE events and returns each event's data.

    Input may be cut anywhere, even inside a line or a UTF-8 sequence; an event is complete at
    a blank line. Comments (`:`), `event:`, `id:` and `retry:` fields are skipped, as OpenAI's
    streams carry everything in `data:`. An event larger than `max_event_bytes` raises
    `EventTooLarge` as soon as that is known, so no upstream can make the decoder hold more.
    """

    def __init__(self, max_event_bytes: int = 2**62) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self._size = 0  # of the data of the event being received
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """Adds bytes and returns the data of each event they complete."""
        buffer = self._pending + chunk if self._pending else chunk
        lines = buffer.split(b"\n")
        self._pending = lines.pop()
        events: list[bytes] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
                    self._size = 0
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
                self._size += len(value)
        if self._size + len(self._pending) > self._max:
            raise EventTooLarge(self._max)
        return events

    def finish(self) -> list[bytes]:
        """Returns the data of an event left open when the stream ended without a blank line."""
        if self._pending:
            self.feed(b"\n")
        events = [b"\n".join(self._data)] if self._data else []
        self._data = []
        return events

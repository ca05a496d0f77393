"""An incremental decoder of server-sent events (the `data:` fields of each event)."""

from __future__ import annotations


class SseDecoder:
    """Splits a byte stream into SSE events and returns each event's data.

    Input may be cut anywhere, even inside a line or a UTF-8 sequence; an event is complete at
    a blank line. Comments (`:`), `event:`, `id:` and `retry:` fields are skipped, as OpenAI's
    streams carry everything in `data:`.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

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
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def finish(self) -> list[bytes]:
        """Returns the data of an event left open when the stream ended without a blank line."""
        if self._pending:
            self.feed(b"\n")
        events = [b"\n".join(self._data)] if self._data else []
        self._data = []
        return events

"""Server-Sent Events decoding without I/O: bytes in, ``data`` payloads out.

Only what chat-completion streams use is kept: the ``data`` field (several ``data`` lines of one
event are joined with ``\\n``, as the SSE specification says), comments and every other field are
skipped, and an event ends at a blank line (an event cut off by the end of the stream is
dropped, as the specification says). Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``, and a
network read may stop anywhere, even between ``\\r`` and ``\\n``. An event larger than
``max_event_bytes`` is an error rather than unbounded buffering.
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "SSEError"]

#: Far above any real chunk (a tool call's arguments arrive in small pieces).
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024


class SSEError(ValueError):
    """The byte stream is not a usable event stream (an event too large to buffer)."""


class SSEDecoder:
    """Incremental decoder: feed it the bytes of each read, get the complete events' data back."""

    __slots__ = ("_data", "_max", "_pending", "_pending_cr")

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._pending = b""  # an unfinished line
        self._pending_cr = False  # the last read ended in "\r": a following "\n" belongs to it
        self._data: list[bytes] = []  # data lines of the event being read

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take the next bytes of the stream; return the ``data`` of every event they complete.

        Raises:
            SSEError: one event (or one line) grew past ``max_event_bytes``.
        """
        if not chunk:
            return []
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = chunk.endswith(b"\r")
        buffer = self._pending + chunk if self._pending else chunk
        lines = buffer.splitlines()  # bytes.splitlines splits on \n, \r\n and \r only
        if buffer and not buffer.endswith((b"\n", b"\r")):
            self._pending = lines.pop()
            if len(self._pending) > self._max:
                raise SSEError(f"an event stream line exceeded {self._max} bytes")
        else:
            self._pending = b""
        events: list[bytes] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                    self._data = []
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
                if len(self._data) > 1 and sum(map(len, self._data)) > self._max:
                    raise SSEError(f"an event stream event exceeded {self._max} bytes")
            # comments (":"), "event:", "id:", "retry:" and unknown fields carry nothing we use
        return events

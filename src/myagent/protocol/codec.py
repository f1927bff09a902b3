"""Encoding downstream frames so that the text can always be sent. No I/O.

``json.dumps`` happily writes a lone surrogate (which then fails when the socket encodes the
text as UTF-8, inside the writer task) and ``NaN`` (which no browser's ``JSON.parse`` reads).
Both can reach a frame from places the decoder does not guard: a model's reply, a tool's result.
:func:`encode_frame` writes strict JSON that is valid UTF-8, repairing what it has to, and says
whether it did, so the writer can log the repair once instead of dying.
"""

from __future__ import annotations

import json
import math
from typing import Any

from myagent.protocol.text import printable

try:  # measured: about half of json's cost for a delta frame (docs/benchmarks.md)
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without its wheel
    orjson = None  # type: ignore[assignment]

__all__ = ["UNENCODABLE_PLACEHOLDER", "encode_frame", "encode_frame_reporting"]

UNENCODABLE_PLACEHOLDER = "[this event could not be encoded]"

# The fields that place a frame in its stream; a frame that cannot be encoded keeps them.
_IDENTITY = ("event", "timestamp", "session_id", "connection_id", "step_id", "seq", "event_id")


def _sendable(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (much faster than searching it for surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)


#: Nesting below which :func:`_plain` looks; deeper frames take the ``json`` path.
_PLAIN_DEPTH = 8


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds only ``str``/``int``/``bool``/``None`` in dicts with ``str`` keys and lists.

    For those ``orjson`` writes exactly the text :func:`_dumps` writes (same escapes, same order);
    floats (``1e+16`` against ``1e16``), subclasses (enums) and everything ``default=str`` would
    turn into text are left to ``json``.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is dict:
        return all(type(key) is str and _plain(item, depth + 1) for key, item in value.items())
    if kind is list:
        return all(_plain(item, depth + 1) for item in value)
    return False


def encode_frame(frame: dict[str, Any]) -> str:
    """The frame as compact JSON text that is valid UTF-8 and strict JSON; never raises."""
    return encode_frame_reporting(frame)[0]


def encode_frame_reporting(frame: dict[str, Any]) -> tuple[str, bool]:
    """``(text, repaired)``: like :func:`encode_frame`, and whether anything had to be replaced.

    A frame that is fine is encoded exactly as ``json.dumps(..., ensure_ascii=False,
    separators=(",", ":"), default=str)`` would. Otherwise lone surrogates are spelt
    ``\\udXXX`` and non-finite numbers become ``null``; a frame that still cannot be encoded
    (a circular structure) keeps only its identity fields (event, seq, event_id, …) and a
    placeholder ``content``, so a sequenced stream stays gapless.
    """
    if orjson is not None and _plain(frame):
        try:  # refuses lone surrogates and integers beyond 64 bits: those go the json way below
            return orjson.dumps(frame).decode(), False
        except orjson.JSONEncodeError:
            pass
    try:
        text: str | None = _dumps(frame)
    except (ValueError, TypeError, RecursionError):
        text = None
    if text is not None and _sendable(text):
        return text, False
    try:
        text = _dumps(_repair(frame))
    except (ValueError, TypeError, RecursionError):
        text = None
    if text is None or not _sendable(text):  # e.g. an object whose str() holds a surrogate
        kept: dict[str, Any] = {
            name: printable(str(frame[name])) for name in _IDENTITY if isinstance(frame.get(name), str)
        }
        kept.update({name: frame[name] for name in ("seq",) if isinstance(frame.get(name), int)})
        kept["content"] = UNENCODABLE_PLACEHOLDER
        kept["metadata"] = {"encoding_error": True}
        text = _dumps(kept)
    return text, True


def _repair(value: Any, depth: int = 0) -> Any:
    if depth > 200:
        raise ValueError("frame nested too deeply to encode")
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {printable(str(key)): _repair(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_repair(item, depth + 1) for item in value]
    return value

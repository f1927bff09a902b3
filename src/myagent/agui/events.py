"""AG-UI events as dicts, and their Server-Sent-Events encoding."""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["encode", "event"]


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """One AG-UI event (``type`` plus camelCase fields; ``None`` fields are left out)."""
    return {"type": kind, "timestamp": int(time.time() * 1000), **{k: v for k, v in fields.items() if v is not None}}


def encode(item: dict[str, Any]) -> bytes:
    """One SSE message: ``data: <json>`` and a blank line."""
    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)
    # A lone surrogate (from a tool's output) must not break the stream: replace it.
    return b"data: " + text.encode("utf-8", "replace") + b"\n\n"

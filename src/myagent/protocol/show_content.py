"""``show_content``: a short human-readable line for each downstream event (Chinese or English)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from myagent.protocol.names import AgentEvents
from myagent.protocol.texts import SHOW_TEMPLATES, TOOL_STATUS_ZH

__all__ = ["Language", "render_show_content"]

Language = Literal["zh", "en"]

_MAX_CHARS = 200


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render_show_content(
    event: str, content: Any, metadata: Mapping[str, Any] | None, lang: Language = "zh"
) -> str | None:
    """The line for ``event``, or ``None`` for events that need none (deltas, heartbeats, raw messages)."""
    template = SHOW_TEMPLATES.get(event)
    if template is None:
        return None
    values = _Blank(metadata or {})
    values["content"] = content if isinstance(content, str) else ""
    if event == AgentEvents.TOOL_RESULT and lang == "zh":
        values["status"] = TOOL_STATUS_ZH.get(str(values.get("status")), values.get("status", ""))
    text = template[0 if lang == "zh" else 1].format_map(values)
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"

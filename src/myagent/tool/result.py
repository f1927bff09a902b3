"""What a tool returns: text for the model, structured data for the client."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["ToolResult", "to_text"]


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call.

    Attributes:
        output: what the tool produced; any JSON-serialisable value (non-strings are JSON-encoded
            for the model).
        error: set when the call failed; the model sees ``Error: <error>``.
        system: a note for the model that is not part of the output (e.g. "output truncated").
        base64_image: an optional image (PNG/JPEG, base64) for clients that can show it.
        data: a machine-readable payload for clients (chart options, tables); sent to the client in
            ``agent.tool_result`` ``metadata.data`` and shown to the model only when there is no output.
    """

    output: Any = None
    error: str | None = None
    system: str | None = None
    base64_image: str | None = None
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error is not None:
            text = f"Error: {self.error}"
        elif self.output is not None:
            text = to_text(self.output)
        elif self.data is not None:
            text = to_text(self.data)
        else:
            text = ""
        if self.system:
            text = f"{text}\n{self.system}" if text else self.system
        return text

    def __add__(self, other: ToolResult) -> ToolResult:
        def join(a: Any, b: Any) -> Any:
            if a is None or b is None:
                return a if b is None else b
            return to_text(a) + to_text(b)

        return replace(
            self,
            output=join(self.output, other.output),
            error=join(self.error, other.error),
            system=join(self.system, other.system),
            base64_image=other.base64_image or self.base64_image,
            data=self.data if other.data is None else other.data,
        )

    @classmethod
    def failure(cls, error: str) -> ToolResult:
        return cls(error=error)

    @classmethod
    def coerce(cls, value: object) -> ToolResult:
        """Wrap whatever a tool's ``execute`` returned into a ``ToolResult``."""
        if isinstance(value, ToolResult):
            return value
        return cls(output=value)


def to_text(value: object) -> str:
    """Render any value as text; never raises."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # not serialisable, circular, or ``default=str`` hit a broken __str__/__repr__
        try:
            return repr(value)
        except Exception:  # a broken __repr__ must not break the run
            return f"<unprintable {type(value).__name__}>"

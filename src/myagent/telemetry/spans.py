"""The span and tracer types every tracer builds on (the base classes do nothing)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["NOOP_SPAN", "Span", "Tracer"]


class Span:
    """One unit of traced work. This base class is the no-op span; tracers return subclasses."""

    def observe(self, event: Any) -> None:
        """Take what matters from a run event (usage, outcome); the loop passes every event it yields."""

    def set(self, key: str, value: Any) -> None:
        """Set one attribute."""

    def fail(self, error_type: str, message: str = "") -> None:
        """Mark the work failed (``error.type``)."""

    def end(self) -> None:
        """Finish the span (idempotent)."""

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make this span the parent of spans started inside the block (use in a task, not a generator)."""
        yield


NOOP_SPAN = Span()


class Tracer:
    """Starts spans for what an agent does. Subclass to trace somewhere; every method may return the no-op span.

    Attributes:
        capture_content: record message content, tool arguments and results (off: only sizes and names).
    """

    capture_content = False

    def start_agent(self, agent: Any) -> Span:
        """A run of ``agent`` (``invoke_agent``); parent: the current span or the client's trace."""
        return NOOP_SPAN

    def start_chat(self, parent: Span, agent: Any, request: Any) -> Span:
        """One model call of a run (``chat``)."""
        return NOOP_SPAN

    def start_tool(self, parent: Span, tool: Any, call: Any, arguments: Any) -> Span:
        """One tool call of a run (``execute_tool``); ``tool`` is ``None`` for an unknown tool."""
        return NOOP_SPAN

    def start_workflow(self, agent: Any) -> Span:
        """A Plan & Solve run; its phases are children."""
        return NOOP_SPAN

    def start_phase(self, phase: str, **attributes: Any) -> Span:
        """A Plan & Solve phase (``plan``, ``solver``, ``aggregate``) under the current span."""
        return NOOP_SPAN

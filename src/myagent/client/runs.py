"""Runs as the client sees them: which run an event belongs to, and where a run ends.

A run normally ends with a closing event (``agent.final_answer``, ``agent.error``,
``agent.interrupted``). Plan & Solve runs in direct task mode (``user.solve_tasks``, a task
re-run while idle) end without one: they are over once every task has finished, or at
``plan.coercion_error``. :class:`PipelineTrack` recognises those ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from myagent.client.events import Event
from myagent.protocol.names import AgentEvents, PlanEvents, SolverEvents

if TYPE_CHECKING:
    from myagent.client.errors import ClientError

__all__ = ["FOREIGN", "InboxItem", "OwnRun", "PipelineTrack", "RunStream", "is_run_event"]

#: ``InboxItem.ends`` of an item that ends a run this client did not start.
FOREIGN = 0

#: Sequenced events that answer a request rather than belong to a run.
_NOT_RUN = frozenset(
    {AgentEvents.SESSION_CREATED, AgentEvents.STATE_EXPORTED, AgentEvents.STATE_RESTORED, AgentEvents.SESSION_END}
)
_TASK_STARTS = frozenset({SolverEvents.START, SolverEvents.RESTARTED})
_TASK_ENDS = frozenset({SolverEvents.COMPLETED, SolverEvents.FAILED, SolverEvents.CANCELLED})


def is_run_event(event: Event) -> bool:
    return event.seq is not None and event.name not in _NOT_RUN


@dataclass(eq=False)
class OwnRun:
    """A run this client started (``user.message`` or ``user.solve_tasks``); ``started`` once it produced an event."""

    stream: int
    frame: dict[str, Any]
    mark: int
    confirm: Callable[..., Any] | None = None
    tasks: frozenset[str] | None = None  # direct task mode: the ids that must all finish
    generation: int = 0
    started: bool = False

    @property
    def request(self) -> str:
        return str(self.frame["event"])


@dataclass(frozen=True)
class InboxItem:
    """An event for the application, or an error ending a run; ``ends`` names the run it ends."""

    event: Event | None = None
    error: ClientError | None = None
    ends: int | None = None


@dataclass
class PipelineTrack:
    """Task progress of the current Plan & Solve run, to see the end of a run that has no closing event."""

    planned: bool = False  # this run planned (standard mode: it ends with a closing event)
    direct: bool | None = None  # whether the session's last plan came from user.solve_tasks
    inflight: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    def note(self, event: Event) -> None:
        if event.name == PlanEvents.START:
            self.planned, self.direct = True, False
        task = None if event.task_id is None else str(event.task_id)
        if task is None:
            return
        if event.name in _TASK_STARTS:
            self.inflight.add(task)
            self.finished.discard(task)
        elif event.name in _TASK_ENDS:
            self.inflight.discard(task)
            self.finished.add(task)

    def ends_run(self, event: Event, expected: frozenset[str] | None) -> bool:
        """Whether ``event`` ends a run without a closing event: tasks refused before a direct-mode run began.

        Every run that starts ends with one of :data:`~myagent.protocol.rules.RUN_CLOSING_EVENTS`
        (``pipeline.tasks_completed`` in direct task mode).
        """
        return not self.planned and event.name == PlanEvents.COERCION_ERROR

    def reset(self) -> None:
        self.planned = False
        self.inflight.clear()
        self.finished.clear()


def task_ids(tasks: Iterable[Any]) -> frozenset[str] | None:
    """The ids of tasks sent with ``user.solve_tasks`` (``None`` unless every task has one)."""
    ids = [task.get("id") for task in tasks if isinstance(task, dict)]
    if not ids or any(i is None for i in ids):
        return None
    return frozenset(str(i) for i in ids)


class RunStream:
    """The events of one run, in order, the one that ends it last.

    Returned by :meth:`Session.send` once the message is queued for sending; iterate it with
    ``async for``. Errors the server reports about the request are raised while iterating.
    """

    def __init__(self, events: AsyncGenerator[Event, None]) -> None:
        self._events = events

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> Event:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop reading (the run goes on; its remaining events can be read with ``session.follow()``)."""
        await self._events.aclose()

    async def collect(self) -> list[Event]:
        """Every remaining event of the run."""
        return [event async for event in self]

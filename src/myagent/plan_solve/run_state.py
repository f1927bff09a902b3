"""The state of one active Plan & Solve run: its event queue, phase and task runners."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest, ConfirmCallback
from myagent.agent.events import RunEvent
from myagent.plan_solve.events import PipelineEvent, SubAgentEvent

__all__ = ["DONE", "Phase", "RunState"]

Phase = Literal["starting", "planning", "confirming", "solving", "aggregating", "finished"]

DONE = object()  # end-of-run marker on the queue


@dataclass
class RunState:
    confirm: ConfirmCallback | None
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    phase: Phase = "starting"
    plan_task: asyncio.Task[Any] | None = None
    replan_question: str | None = None
    replan_requested: bool = False
    runners: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    superseded: set[asyncio.Task[None]] = field(default_factory=set)  # runs replaced by a restart: silent
    statistics: list[dict[str, Any]] = field(default_factory=list)
    semaphore: asyncio.Semaphore | None = None

    async def confirm_in_order(self, request: ConfirmationRequest) -> ConfirmationDecision | bool:
        """Ask for a confirmation only after every event queued before it has been delivered.

        The server announces a confirmation at once, while pipeline events wait in the queue; without
        this an ``agent.user_confirm`` could overtake the ``plan.completed`` or tool call it is about.
        """
        if self.confirm is None:
            return ConfirmationDecision(False, None, "no_handler")
        await self.queue.join()
        return await self.confirm(request)

    def emit(
        self, name: str, content: Any, task_id: str | int | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        meta = {**(metadata or {}), **({} if task_id is None else {"task_id": task_id})}
        self.queue.put_nowait(PipelineEvent(name, content, meta))

    def forward(self, event: SubAgentEvent | RunEvent) -> None:
        self.queue.put_nowait(event)

    @property
    def planning(self) -> bool:
        return self.phase in ("planning", "confirming") and self.plan_task is not None and not self.plan_task.done()

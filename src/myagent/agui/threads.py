"""AG-UI threads: one agent per ``threadId``, whose run may pause on interrupts across HTTP requests.

A run is a task the thread owns. Its events go into a queue; each ``POST /agui`` drains the queue
until the run ends or asks for a confirmation. A confirmation ends the HTTP response with an
interrupt outcome; the run itself stays paused until a later request resumes it (or the
confirmation expires, which counts as a refusal, as on the WebSocket).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest
from myagent.agent.session_agent import SessionAgent
from myagent.telemetry import conversation
from myagent.tool.lifecycle import close_agent

__all__ = ["AGUIThread", "Interrupted", "RunEnded", "ThreadStore"]

logger = logging.getLogger(__name__)

#: The answer an interrupt expects (sent to clients as ``responseSchema``).
APPROVAL_SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "message": {"type": "string"}},
    "required": ["approved"],
}


@dataclass
class Interrupted:
    """Queue item: the run waits for the answer to ``interrupt``."""

    interrupt: dict[str, Any]


@dataclass
class RunEnded:
    """Queue item: the run task is over (``error`` when it crashed)."""

    error: BaseException | None = None


@dataclass
class _Pending:
    request: ConfirmationRequest
    answer: asyncio.Future[ConfirmationDecision]


@dataclass
class AGUIThread:
    """One conversation: its agent, its current run and the confirmations that run waits for."""

    id: str
    agent: SessionAgent
    confirm_timeout: float
    backlog: deque[Any] = field(default_factory=deque)  # run events not yet streamed to a client
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    run: asyncio.Task[None] | None = None
    pending: dict[str, _Pending] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)  # interrupts the client has been told about
    serving: bool = False  # an HTTP response is streaming this thread's events
    last_used: float = field(default_factory=time.monotonic)

    @property
    def running(self) -> bool:
        return self.run is not None and not self.run.done()

    def put(self, item: Any) -> None:
        self.backlog.append(item)
        self._arrived.set()

    def start(self, question: str) -> None:
        self.backlog.clear()
        with conversation(self.id):  # the task copies it: gen_ai.conversation.id on the run's spans
            self.run = asyncio.create_task(self._drive(question), name=f"agui-{self.id}")

    async def _drive(self, question: str) -> None:
        try:
            async for item in self.agent.stream(question, confirm=self.confirm):
                self.put(item)
        except asyncio.CancelledError:
            self.put(RunEnded())
            raise
        except Exception as exc:  # the run boundary: report it to the client, keep the server up
            logger.exception("agui thread %s: run failed", self.id)
            self.put(RunEnded(exc))
            return
        self.put(RunEnded())

    async def confirm(self, request: ConfirmationRequest) -> ConfirmationDecision:
        """The agent's confirmation callback: an AG-UI interrupt, answered by a later request's ``resume``."""
        interrupt_id = f"confirm_{request.call_id}"
        answer: asyncio.Future[ConfirmationDecision] = asyncio.get_running_loop().create_future()
        self.pending[interrupt_id] = _Pending(request, answer)
        timeout = request.timeout if request.timeout is not None else self.confirm_timeout
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
        self.put(Interrupted(_interrupt(interrupt_id, request, expires)))
        try:
            async with asyncio.timeout(timeout):
                return await answer
        except TimeoutError:
            return ConfirmationDecision(False, None, "timeout")
        finally:
            self.pending.pop(interrupt_id, None)
            self.announced.discard(interrupt_id)

    def answer(self, interrupt_id: str, status: str, payload: Any) -> bool:
        """Resolve a pending interrupt; ``False`` when there is no such interrupt (any more)."""
        pending = self.pending.get(interrupt_id)
        if pending is None or pending.answer.done():
            return False
        if status == "cancelled":
            decision = ConfirmationDecision(False, None, "cancelled")
        else:
            approved, note = _approval(payload)
            decision = ConfirmationDecision(approved, note)
        pending.answer.set_result(decision)
        return True

    async def items(self) -> AsyncIterator[Any]:
        """The run's items in order, waiting for the next one when none is left."""
        while True:
            while self.backlog:
                yield self.backlog.popleft()
            self._arrived.clear()
            await self._arrived.wait()

    def take_interrupts(self) -> list[Interrupted]:
        """The interrupts queued right at the front (announced together with the one just taken)."""
        taken = []
        while self.backlog and isinstance(self.backlog[0], Interrupted):
            taken.append(self.backlog.popleft())
        return taken

    async def close(self) -> None:
        if self.run is not None and not self.run.done():
            self.run.cancel()
            await asyncio.gather(self.run, return_exceptions=True)
        await close_agent(self.agent)


class ThreadStore:
    """The threads of one endpoint, bounded: idle threads beyond ``max_threads`` are dropped, oldest first."""

    def __init__(self, *, max_threads: int = 1000) -> None:
        self.max_threads = max_threads
        self._threads: OrderedDict[str, AGUIThread] = OrderedDict()

    def get(self, thread_id: str) -> AGUIThread | None:
        thread = self._threads.get(thread_id)
        if thread is not None:
            self._threads.move_to_end(thread_id)
            thread.last_used = time.monotonic()
        return thread

    def add(self, thread: AGUIThread) -> list[AGUIThread]:
        """Keep ``thread``; returns the idle threads evicted to make room (the caller closes them)."""
        self._threads[thread.id] = thread
        evicted = []
        for old in list(self._threads.values()):
            if len(self._threads) <= self.max_threads:
                break
            if not old.running and old is not thread:
                evicted.append(self._threads.pop(old.id))
        return evicted

    def __len__(self) -> int:
        return len(self._threads)

    def __iter__(self) -> Any:
        return iter(list(self._threads.values()))


def _interrupt(interrupt_id: str, request: ConfirmationRequest, expires: dt.datetime) -> dict[str, Any]:
    fields = {
        "id": interrupt_id,
        "reason": "tool_approval" if request.extra.get("scope", "tool") == "tool" else "plan_approval",
        "message": f"Run tool {request.tool_name}? {request.tool_description}".strip(),
        "toolCallId": request.call_id if request.extra.get("scope", "tool") == "tool" else None,
        "responseSchema": APPROVAL_SCHEMA,
        "expiresAt": expires.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "metadata": {"toolName": request.tool_name, "arguments": request.arguments},
    }
    return {key: value for key, value in fields.items() if value is not None}


def _approval(payload: Any) -> tuple[bool, str | None]:
    """``{"approved": bool, "message"?: str}``; a bare boolean is accepted too, anything else refuses."""
    if isinstance(payload, bool):
        return payload, None
    if isinstance(payload, dict):
        approved = payload.get("approved", payload.get("confirmed"))
        note = payload.get("message")
        return approved is True, note if isinstance(note, str) else None
    return False, None

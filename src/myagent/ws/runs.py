"""Drives one agent run: feeds its events through :func:`~myagent.ws.translate.translate` into the log.

Every run ends with exactly one closing event (``agent.final_answer``, ``agent.error``,
``agent.interrupted``, or ``pipeline.tasks_completed`` in direct task mode).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from myagent.agent.events import FinalAnswer, MessageAdded, ModelCallFinished, ToolCallFinished
from myagent.llm.base import Usage
from myagent.plan_solve.events import SubAgentEvent
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import AgentEvents
from myagent.protocol.texts import text
from myagent.ws.event_log import StaleFence
from myagent.ws.session import Session
from myagent.ws.translate import AnyRunEvent, RunFacts, translate

__all__ = ["Work", "drive_run", "start_run"]

logger = logging.getLogger(__name__)

#: What a run does: the user's text for the agent, or a run the agent already prepared.
Work = str | AsyncIterator[AnyRunEvent]


def start_run(
    session: Session,
    work: Work,
    *,
    on_usage: Callable[[Usage], None],
    on_finished: Callable[[Session], Awaitable[None]],
    spawn: Callable[[Any], object],
) -> None:
    """Start :func:`drive_run` as the session's run task.

    A task cancelled before its first step never executes its coroutine, so ``drive_run`` could not
    report it (a ``user.cancel`` read right after the ``user.message`` does that): the done callback
    closes such a run with ``agent.interrupted``.
    """
    began = False

    async def run() -> None:
        nonlocal began
        began = True
        try:
            await drive_run(session, work, on_usage=on_usage)
        finally:
            await asyncio.shield(on_finished(session))

    def closed_before_start(task: asyncio.Task[None]) -> None:
        if began or not task.cancelled():
            return
        reason = "user_cancel"
        try:
            task.result()
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args and exc.args[0] else reason
        interrupted = session.emit(
            AgentEvents.INTERRUPTED, text("interrupted", session.language), metadata={"reason": reason}
        )
        spawn(interrupted)

    session.run_closed = False
    session.run_task = asyncio.create_task(run(), name=f"run-{session.id}")
    session.run_task.add_done_callback(closed_before_start)


async def drive_run(session: Session, work: Work, *, on_usage: Callable[[Usage], None]) -> None:
    """Run the session's agent on ``work``; every outcome ends with exactly one closing event."""
    language = session.language
    started = time.monotonic()
    mark = len(session.agent.usage.calls)
    send_llm_messages = session.options.send_llm_messages
    try:
        if not isinstance(work, str):
            await session.save_progress()  # the run is under way: if this process dies, another goes on with it
        # A new question is checkpointed with it in memory (the agent's first event adds it): a
        # checkpoint saying "under way" before that made another process answer an empty question.
        events = session.agent.stream(work, confirm=session.confirm) if isinstance(work, str) else work
        async for event in events:
            inner = event.event if isinstance(event, SubAgentEvent) else event
            if isinstance(inner, ModelCallFinished):
                on_usage(inner.usage)
            facts = None
            if isinstance(event, FinalAnswer):
                facts = RunFacts(session.agent.usage.since(mark), (time.monotonic() - started) * 1000)
            for out in translate(event, language, facts=facts, send_llm_messages=send_llm_messages):
                await session.emit(out.event, out.content, metadata=out.metadata, step_id=out.step_id)
            if isinstance(event, MessageAdded | ToolCallFinished):  # a step's reply or a tool's result
                await session.save_progress()
    except asyncio.CancelledError as exc:
        reason = (exc.args[0] if exc.args else None) or "user_cancel"
        await asyncio.shield(
            session.emit(AgentEvents.INTERRUPTED, text("interrupted", language), metadata={"reason": str(reason)})
        )
        raise
    except Exception as exc:  # the run boundary: a bug in a tool or model must not kill the server
        logger.exception("session %s: run failed", session.id)
        await _emit_closing_error(session, text("failed", language, error=f"{type(exc).__name__}: {exc}"))


async def _emit_closing_error(session: Session, message: str) -> None:
    """``agent.error`` ``RUN_FAILED``, retried while the event log is away (a restarting Redis).

    The run may have failed because the log refused its events; giving up at once left the client a
    stream that just stopped. Retries back off up to 10 s apart, for at most ``grace_period``.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + session.options.grace_period
    delay = 0.5
    while True:
        try:
            await session.emit(AgentEvents.ERROR, message, metadata={"error_code": ErrorCodes.RUN_FAILED})
            return
        except StaleFence:
            raise  # another process runs the session now: the run is not ours to close
        except Exception as exc:
            if loop.time() + delay > give_up:
                raise
            logger.warning(
                "session %s: could not write the run's closing error (%s); retrying in %.1f s", session.id, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

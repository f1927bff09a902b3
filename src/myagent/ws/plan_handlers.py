"""Plan & Solve controls: ``user.solve_tasks``, ``cancel_task``, ``restart_task``, ``cancel_plan``, ``replan``.

Each control is acknowledged with ``system.notice`` ``{action, ok, task_id?}``; ``ok`` is false
(with the reason in ``content``) when the control does not apply in the current phase.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from myagent.errors import ProtocolError
from myagent.plan_solve.pipeline import PlanSolveAgent
from myagent.plan_solve.types import TaskCoercionError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.names import PlanEvents
from myagent.ws.connection import Connection
from myagent.ws.session import Session

__all__ = ["cancel_plan", "cancel_task", "replan", "restart_task", "solve_tasks"]

_TEXTS = {
    "zh": {True: "已处理", False: "当前阶段无法执行该操作"},
    "en": {True: "done", False: "not possible in the current phase"},
}


def _pipeline(connection: Connection, frame: InboundFrame) -> tuple[Session, PlanSolveAgent]:
    session = connection.resolve(frame)
    if not isinstance(session.agent, PlanSolveAgent):
        raise ProtocolError(ErrorCodes.NOT_SUPPORTED, f"{frame.event} needs a Plan & Solve agent in this session")
    return session, session.agent


def _acknowledge(connection: Connection, session: Session, action: str, ok: bool, **extra: Any) -> None:
    text = f"{action}: {_TEXTS[connection.hub.options.language][ok]}"
    connection.notice(action, ok, text, session_id=session.id, **extra)


def _start(connection: Connection, session: Session, work: Any) -> None:
    connection.hub.start_run(session, work)


async def solve_tasks(connection: Connection, frame: InboundFrame) -> None:
    session, agent = _pipeline(connection, frame)
    if session.busy:
        raise ProtocolError(ErrorCodes.SESSION_BUSY, "a run is already active in this session; wait or cancel it")
    tasks = frame.get("tasks")
    try:
        agent.planner.coerce_tasks(tasks)
    except TaskCoercionError as exc:
        _acknowledge(connection, session, "solve_tasks", False, error=str(exc))
        session.emit(PlanEvents.COERCION_ERROR, {"error": str(exc)})
        return
    _acknowledge(connection, session, "solve_tasks", True, tasks=len(tasks))
    _start(connection, session, _direct_run(session, agent, frame))


async def _direct_run(session: Session, agent: PlanSolveAgent, frame: InboundFrame) -> AsyncIterator[Any]:
    """Direct mode sends solver events only; a ``system.notice`` (action ``solve_tasks_done``) ends it."""
    work = agent.solve_tasks(
        frame.get("tasks"),
        question=frame.get("question") or "",
        plan_summary=frame.get("plan_summary") or "",
        confirm=session.confirm,
    )
    async for event in work:
        yield event
    sink = session.sink
    if isinstance(sink, Connection) and agent.context is not None:
        _acknowledge(sink, session, "solve_tasks_done", True, **agent.context.status_counts())


async def cancel_task(connection: Connection, frame: InboundFrame) -> None:
    session, agent = _pipeline(connection, frame)
    wanted = frame.get("task_id")
    ok = session.busy and agent.cancel_task(wanted)
    _acknowledge(connection, session, "cancel_task", ok, task_id=wanted)


async def restart_task(connection: Connection, frame: InboundFrame) -> None:
    session, agent = _pipeline(connection, frame)
    wanted = frame.get("task_id")
    if session.busy:
        ok = agent.restart_task(wanted)
    else:
        ok = agent.context is not None and agent.context.find_task(wanted) is not None
    _acknowledge(connection, session, "restart_task", ok, task_id=wanted)
    if ok and not session.busy:
        _start(connection, session, agent.rerun_task(wanted, confirm=session.confirm))


async def cancel_plan(connection: Connection, frame: InboundFrame) -> None:
    session, agent = _pipeline(connection, frame)
    ok = session.busy and agent.cancel_plan()
    _acknowledge(connection, session, "cancel_plan", ok)


async def replan(connection: Connection, frame: InboundFrame) -> None:
    session, agent = _pipeline(connection, frame)
    question = frame.get("question")
    if session.busy:
        ok = agent.replan(question)
        _acknowledge(connection, session, "replan", ok)
        return
    question = question or agent.last_question
    _acknowledge(connection, session, "replan", question is not None)
    if question is not None:
        _start(connection, session, agent.stream(question, confirm=session.confirm))

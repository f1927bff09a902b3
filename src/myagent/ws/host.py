"""The sessions this process runs: their agents, runs and confirmations, and the commands that act on them.

Every command that needs a session's live agent (a message, an answer, a cancel, a plan control, a
state export) is executed here, in the process holding the session's run lease. Commands from other
processes arrive through the :class:`~myagent.ws.control.ControlBus` as :class:`ControlCommand`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from myagent.agent.toolcall import ToolCallAgent
from myagent.llm.base import Usage
from myagent.plan_solve.pipeline import PlanSolveAgent
from myagent.plan_solve.types import TaskCoercionError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import AgentEvents, PipelineEvents, PlanEvents
from myagent.protocol.texts import text
from myagent.telemetry import continue_trace, conversation
from myagent.ws.control import ControlCommand, ControlResult
from myagent.ws.runs import Work, start_run
from myagent.ws.session import Session
from myagent.ws.state_manager import StateManager, canonical_json

__all__ = ["SessionHost"]

logger = logging.getLogger(__name__)


def _refuse(code: str, message: str) -> ControlResult:
    return ControlResult(False, code, message)


class SessionHost:
    """Live sessions of one process and the operations on them.

    Args:
        state: signs exported states.
        accepting: whether new runs may start (false while shutting down).
        on_usage: counts tokens of every model call.
        on_run_started: counts runs.
        on_finished: checkpoints a session after each run.
        spawn: starts a task the owner tracks (cancelled on shutdown).
    """

    def __init__(
        self,
        *,
        state: StateManager,
        accepting: Callable[[], bool],
        on_usage: Callable[[Usage], None],
        on_run_started: Callable[[], None],
        on_finished: Callable[[Session], Awaitable[None]],
        spawn: Callable[[Any], object],
    ) -> None:
        self.sessions: dict[str, Session] = {}
        self.state = state
        self._on_usage = on_usage
        self._on_run_started = on_run_started
        self._on_finished = on_finished
        self._spawn = spawn
        self._accepting = accepting

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    @property
    def active_runs(self) -> int:
        return sum(1 for session in self.sessions.values() if session.busy)

    def start(self, session: Session, work: Work, *, trace: dict[str, str] | None = None) -> None:
        """Start a run in ``session`` (the caller checked it is idle).

        ``trace`` (W3C ``traceparent``/``tracestate`` from the client) continues the client's trace.
        """
        self._on_run_started()
        # The run task copies the context: its spans carry the session id and the client's trace.
        with conversation(session.id), continue_trace(trace):
            start_run(session, work, on_usage=self._on_usage, on_finished=self._on_finished, spawn=self._spawn)

    async def execute(self, command: ControlCommand) -> ControlResult:
        """Run ``command`` on the live session it names."""
        session = self.sessions.get(command.session_id)
        if session is None or session.closed:
            return _refuse(ErrorCodes.SESSION_NOT_FOUND, f"no live session {command.session_id!r}")
        operation = _OPERATIONS.get(command.kind)
        if operation is None:
            return _refuse(ErrorCodes.NOT_SUPPORTED, f"unknown command {command.kind!r}")
        return await operation(self, session, command.args)

    # -- runs ---------------------------------------------------------------------------------

    def _check_idle(self, session: Session) -> ControlResult | None:
        if session.busy:
            return _refuse(ErrorCodes.SESSION_BUSY, "a run is already active in this session; wait or cancel it")
        if not self._accepting():
            return _refuse(ErrorCodes.SERVER_SHUTTING_DOWN, "the server is shutting down")
        return None

    async def _message(self, session: Session, args: dict[str, Any]) -> ControlResult:
        refused = self._check_idle(session)
        if refused is not None:
            return refused
        self.start(session, str(args["text"]), trace=args.get("trace"))
        return ControlResult()

    async def _resume_calls(self, session: Session, args: dict[str, Any]) -> ControlResult:
        if not session.busy and session.agent.unanswered_calls():
            self.start(session, session.agent.resume(confirm=session.confirm))
        return ControlResult()

    async def _answer(self, session: Session, args: dict[str, Any]) -> ControlResult:
        step_id = str(args.get("step_id"))
        error = session.confirmations.answer(
            step_id, bool(args.get("confirmed")), args.get("message"), args.get("tasks")
        )
        if error == ErrorCodes.STEP_NOT_FOUND:
            return _refuse(error, f"no pending confirmation {step_id!r}")
        if error is not None:
            return _refuse(error, f"confirmation {step_id!r} was already answered or expired")
        return ControlResult()

    async def _cancel(self, session: Session, args: dict[str, Any]) -> ControlResult:
        if not session.cancel_run(str(args.get("reason") or "user_cancel")):
            return _refuse(ErrorCodes.NO_ACTIVE_RUN, "nothing to cancel: the session is idle")
        return ControlResult()

    async def _announce_again(self, session: Session, args: dict[str, Any]) -> ControlResult:
        replayed = args.get("replayed")
        await session.announce_again((int(replayed[0]), int(replayed[1])) if replayed else None)
        return ControlResult()

    async def _describe(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = session.agent
        facts = {"current_step": agent.current_step, "message_count": len(agent.memory), "busy": session.busy}
        return ControlResult(data=facts)

    async def _request_state(self, session: Session, args: dict[str, Any]) -> ControlResult:
        snapshot = self.state.create_state_snapshot(session)
        principal = args.get("principal")
        signed = self.state.sign_state(snapshot, principal=str(principal) if principal is not None else None)
        await session.emit(
            AgentEvents.STATE_EXPORTED,
            text("state_exported", session.language),
            metadata={
                "signed_state": signed,
                "state_size": len(canonical_json(signed)),
                # Counted in the snapshot (trimmed, encrypted or not), the same count a restore reports.
                "message_count": len(snapshot["messages"]),
                "current_step": snapshot["current_step"],
                "encrypted": bool(signed.get("encrypted")),
            },
        )
        return ControlResult()

    async def _close(self, session: Session, args: dict[str, Any]) -> ControlResult:
        await self.close(session, str(args.get("reason") or "closed"))
        return ControlResult()

    async def close(self, session: Session, reason: str) -> None:
        """End a session here: cancel its run, say ``agent.session_end``, forget it."""
        if session.closed:
            return
        await session.close()
        await session.emit(AgentEvents.SESSION_END, text("session_end", session.language), metadata={"reason": reason})
        self.sessions.pop(session.id, None)

    async def resume_lost_run(self, session: Session, asking: list[str]) -> None:
        """Go on with the run of a session taken over from a process that died (see ``agent.run_resumed``).

        ``asking``: call ids that were waiting for a confirmation (asked again, never called interrupted).
        """
        agent = session.agent
        if not isinstance(agent, ToolCallAgent):
            # A Plan & Solve run cannot be picked up mid-pipeline: close it, never leave it silent.
            await session.emit(
                AgentEvents.ERROR,
                text("run_lost", session.language),
                metadata={"error_code": ErrorCodes.RUN_LOST},
            )
            await self._on_finished(session)
            return
        step, interrupted = agent.resume_point(asking)
        self.start(session, _resumed_run(session, agent, step, interrupted, asking))

    # -- Plan & Solve -------------------------------------------------------------------------

    @staticmethod
    def _pipeline(session: Session, kind: str) -> PlanSolveAgent | ControlResult:
        if not isinstance(session.agent, PlanSolveAgent):
            return _refuse(ErrorCodes.NOT_SUPPORTED, f"user.{kind} needs a Plan & Solve agent in this session")
        return session.agent

    async def _solve_tasks(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = self._pipeline(session, "solve_tasks")
        if isinstance(agent, ControlResult):
            return agent
        refused = self._check_idle(session)
        if refused is not None:
            return refused
        tasks = args.get("tasks")
        try:
            agent.planner.coerce_tasks(tasks)
        except TaskCoercionError as exc:
            await session.emit(PlanEvents.COERCION_ERROR, {"error": str(exc)})
            return ControlResult(False, data={"error": str(exc)})
        work = agent.solve_tasks(
            tasks,
            question=args.get("question") or "",
            plan_summary=args.get("plan_summary") or "",
            confirm=session.confirm,
        )
        self.start(session, _direct_run(session, agent, work))
        return ControlResult(data={"tasks": len(tasks) if isinstance(tasks, list) else 1})

    async def _cancel_task(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = self._pipeline(session, "cancel_task")
        if isinstance(agent, ControlResult):
            return agent
        wanted = args.get("task_id")
        return ControlResult(session.busy and agent.cancel_task(wanted), data={"task_id": wanted})

    async def _restart_task(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = self._pipeline(session, "restart_task")
        if isinstance(agent, ControlResult):
            return agent
        wanted = args.get("task_id")
        if session.busy:
            return ControlResult(agent.restart_task(wanted), data={"task_id": wanted})
        context = agent.context
        ok = context is not None and context.find_task(wanted) is not None
        if ok:
            work = agent.rerun_task(wanted, confirm=session.confirm)
            # A task of a direct-mode run is re-run without aggregation: close it like a direct run.
            self.start(session, _direct_run(session, agent, work) if context and context.direct else work)
        return ControlResult(ok, data={"task_id": wanted})

    async def _cancel_plan(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = self._pipeline(session, "cancel_plan")
        if isinstance(agent, ControlResult):
            return agent
        return ControlResult(session.busy and agent.cancel_plan())

    async def _replan(self, session: Session, args: dict[str, Any]) -> ControlResult:
        agent = self._pipeline(session, "replan")
        if isinstance(agent, ControlResult):
            return agent
        question = args.get("question")
        if session.busy:
            return ControlResult(agent.replan(question))
        question = question or agent.last_question
        if question is None:
            return ControlResult(False)
        self.start(session, agent.stream(question, confirm=session.confirm))
        return ControlResult()

    # -- shutdown -----------------------------------------------------------------------------


async def _direct_run(session: Session, agent: PlanSolveAgent, work: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Direct task mode: solver events, then ``pipeline.tasks_completed`` with the counts closes the run."""
    async for event in work:
        yield event
    counts = agent.context.status_counts() if agent.context is not None else {}
    counts = {"completed": 0, "failed": 0, "cancelled": 0, **counts}
    await session.emit(PipelineEvents.TASKS_COMPLETED, {"total": sum(counts.values()), **counts})


async def _resumed_run(
    session: Session, agent: ToolCallAgent, step: int, interrupted: list[str], asking: list[str]
) -> AsyncIterator[Any]:
    """``agent.run_resumed``, then the rest of the run from the agent's checkpointed conversation."""
    await session.emit(
        AgentEvents.RUN_RESUMED,
        text("run_resumed", session.language, step=step),
        metadata={"step": step, "interrupted_calls": interrupted, "reason": "node_lost"},
    )
    async for event in agent.resume_after_loss(asking=asking, confirm=session.confirm):
        yield event


_Operation = Callable[[SessionHost, Session, dict[str, Any]], Awaitable[ControlResult]]

_OPERATIONS: dict[str, _Operation] = {
    "message": SessionHost._message,
    "resume_calls": SessionHost._resume_calls,
    "answer": SessionHost._answer,
    "cancel": SessionHost._cancel,
    "announce_again": SessionHost._announce_again,
    "request_state": SessionHost._request_state,
    "describe": SessionHost._describe,
    "close": SessionHost._close,
    "solve_tasks": SessionHost._solve_tasks,
    "cancel_task": SessionHost._cancel_task,
    "restart_task": SessionHost._restart_task,
    "cancel_plan": SessionHost._cancel_plan,
    "replan": SessionHost._replan,
}

"""``PlanSolveAgent``: plan → (confirm) → solve in parallel → aggregate, with per-task control.

It offers the same surface the server uses for a ``ToolCallAgent`` (``stream``, ``memory``,
``usage``…), plus the controls behind ``user.solve_tasks``, ``user.cancel_task``,
``user.restart_task``, ``user.cancel_plan`` and ``user.replan``. All work happens in tasks this
object owns; their events go through one queue, so the stream keeps one order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest, ConfirmCallback
from myagent.agent.events import FinalAnswer, ModelCallFinished, RunEvent
from myagent.agent.usage import UsageLedger
from myagent.llm.base import Message, ToolCall
from myagent.plan_solve.events import PipelineEvent, SubAgentEvent
from myagent.plan_solve.roles import PlanAgent, SolverAgent, SubAgentRun
from myagent.plan_solve.run_state import DONE, RunState
from myagent.plan_solve.types import (
    PlanContext,
    SolverRunResult,
    TaskCoercionError,
    task_id,
    task_to_dict,
)
from myagent.protocol.names import AggregateEvents, PipelineEvents, PlanEvents, SolverEvents
from myagent.telemetry import tracer

__all__ = ["Aggregator", "PlanSolveAgent"]

logger = logging.getLogger(__name__)

Aggregator = Callable[[PlanContext, list[SolverRunResult]], Any | Awaitable[Any]]
PlanSolveEvent = RunEvent | PipelineEvent | SubAgentEvent


class PlanSolveAgent:
    """A session agent running a Plan & Solve pipeline; build it with ``create_plan_solver``."""

    def __init__(
        self,
        *,
        planner: PlanAgent,
        solver: SolverAgent,
        aggregator: Aggregator | None = None,
        concurrency: int | None = None,
        confirm_plan: bool = False,
        confirm_timeout: float | None = None,
        name: str = "plan_solver",
        description: str = "",
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.planner = planner
        self.solver = solver
        self.aggregator = aggregator
        self.concurrency = concurrency
        self.confirm_plan = confirm_plan
        self.confirm_timeout = confirm_timeout
        self.name = name
        self.description = description
        self.memory: list[Message] = []
        self.usage = UsageLedger()
        self.current_step = 0
        self.max_steps = 0
        self.model = None
        self.context: PlanContext | None = None
        self._run: RunState | None = None

    # -- the surface the server shares with ToolCallAgent --------------------------------------

    @property
    def is_running(self) -> bool:
        return self._run is not None

    def snapshot_messages(self) -> list[Message]:
        return list(self.memory)

    def unanswered_calls(self) -> list[ToolCall]:
        return []

    def export_plan_context(self) -> dict[str, Any] | None:
        return None if self.context is None else self.context.to_dict()

    def import_plan_context(self, data: dict[str, Any]) -> None:
        """Restore the plan and results saved in a signed state (so a task can be restarted).

        A state saved before there was a plan (planning cancelled or refused) restores the question
        only; so does one whose tasks this planner no longer accepts (logged): a restore must not fail.
        """
        tasks: list[Any] = []
        if data.get("tasks"):
            try:
                tasks = self.planner.coerce_tasks(data["tasks"])
            except TaskCoercionError as exc:
                logger.warning("plan/solve %s: the restored plan is dropped: %s", self.name, exc)
        context = PlanContext(str(data.get("question", "")), tasks, str(data.get("plan_summary", "")))
        context.direct = bool(data.get("direct"))
        context.output = data.get("output")
        for saved in data.get("results") or []:
            task = context.find_task(saved.get("task_id"))
            if task is not None:
                result = context.result_for(task)
                for key in ("status", "output", "summary", "agent_name", "error"):
                    setattr(result, key, saved.get(key, getattr(result, key)))
                if result.status in ("pending", "running"):  # saved mid-run: a restore does not resume it
                    result.status = "cancelled"
        self.context = context

    # -- runs -----------------------------------------------------------------------------------

    def stream(self, query: str, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[PlanSolveEvent, None]:
        """Plan ``query``, (confirm,) solve every task, aggregate, answer."""
        return self._drive(lambda run: self._full(run, query), confirm)

    def solve_tasks(
        self, tasks: Any, *, question: str = "", plan_summary: str = "", confirm: ConfirmCallback | None = None
    ) -> AsyncGenerator[PlanSolveEvent, None]:
        """Direct task mode: skip planning, emit solver events only."""
        return self._drive(lambda run: self._direct(run, tasks, question, plan_summary), confirm)

    def rerun_task(
        self, wanted: Any, *, confirm: ConfirmCallback | None = None
    ) -> AsyncGenerator[PlanSolveEvent, None]:
        """Run one task of the last plan again after the pipeline finished, then aggregate again."""
        return self._drive(lambda run: self._rerun(run, wanted), confirm)

    def resume(self, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[PlanSolveEvent, None]:
        """Nothing to resume: a pipeline interrupted by a restore is started again by the client."""
        return self._drive(self._nothing, confirm)

    async def _drive(
        self, body: Callable[[RunState], Coroutine[Any, Any, None]], confirm: ConfirmCallback | None
    ) -> AsyncGenerator[PlanSolveEvent, None]:
        if self._run is not None:
            raise RuntimeError(f"{self.name!r} is already running")
        run = RunState(confirm, semaphore=asyncio.Semaphore(self.concurrency) if self.concurrency else None)
        self._run = run
        failure: list[BaseException] = []
        workflow = tracer().start_workflow(self)

        async def work() -> None:
            try:
                with workflow.current():  # phases and sub-agents started from here are its children
                    await body(run)
            except Exception as exc:  # reported by the stream to whoever drives the run
                workflow.fail(type(exc).__name__, str(exc))
                failure.append(exc)
            finally:
                run.queue.put_nowait(DONE)

        worker = asyncio.create_task(work())
        try:
            while (item := await run.queue.get()) is not DONE:
                if isinstance(item, SubAgentEvent) and isinstance(item.event, ModelCallFinished):
                    self.usage.record(item.event)
                    workflow.observe(item.event)
                yield item
                run.queue.task_done()  # delivered: see RunState.confirm_in_order
            if failure:
                raise failure[0]
        finally:
            workflow.end()
            await self._stop(run, worker)

    async def _stop(self, run: RunState, worker: asyncio.Task[None]) -> None:
        tasks = [worker, *run.runners.values(), *run.superseded, *([run.plan_task] if run.plan_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        run.phase = "finished"
        self._run = None

    async def _nothing(self, run: RunState) -> None:
        return None

    # -- phases ---------------------------------------------------------------------------------

    async def _full(self, run: RunState, question: str) -> None:
        self.memory.append(Message("user", question))
        context = PlanContext(question=question)
        self.context = context
        tasks = await self._planning(run, context)
        if tasks is None:
            return
        context.tasks = tasks
        await self._solving(run, context, tasks)
        await self._aggregating(run, context)

    async def _planning(self, run: RunState, context: PlanContext) -> list[Any] | None:
        """Plan (again on ``user.replan``) until there are confirmed tasks; ``None`` ends the run."""
        while True:
            run.phase = "planning"
            plan_task: asyncio.Task[list[Any] | None] = asyncio.create_task(self._plan_once(run, context))
            run.plan_task = plan_task
            try:
                return await plan_task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the whole run is being cancelled
                if run.replan_requested:
                    run.replan_requested = False
                    context.question = run.replan_question or context.question
                    continue
                run.emit(PlanEvents.CANCELLED, {"question": context.question, "reason": "cancel_plan"})
                self._finish(run, "计划已取消。 / The plan was cancelled.")
                return None
            except TaskCoercionError as exc:
                run.emit(PlanEvents.COERCION_ERROR, {"error": str(exc)})
                self._finish(run, f"任务列表无效：{exc} / Invalid task list: {exc}")
                return None

    async def _plan_once(self, run: RunState, context: PlanContext) -> list[Any] | None:
        run.emit(PlanEvents.START, {"question": context.question})
        sub = SubAgentRun(run.forward, run.confirm_in_order, "plan", None)
        span = tracer().start_phase("plan", agent=self.planner.name)
        try:
            with span.current():
                tasks, summary = await self.planner.plan(context.question, sub)
            span.set("myagent.plan.task_count", len(tasks))
        except Exception as exc:
            span.fail(type(exc).__name__, str(exc))
            raise
        finally:
            span.end()
            run.statistics.extend(sub.statistics)
        context.plan_summary = summary
        content = {"tasks": [task_to_dict(t) for t in tasks], "plan_summary": summary, "statistics": sub.statistics}
        run.emit(PlanEvents.COMPLETED, content)
        if not self.confirm_plan:
            return tasks
        run.phase = "confirming"
        decision = await self._ask_plan(run, tasks, summary)
        if not decision.confirmed:
            why = "计划确认已超时" if decision.reason == "timeout" else "计划未获确认"
            run.emit(PlanEvents.CANCELLED, {"question": context.question, "reason": decision.reason})
            self._finish(run, f"{why}，未执行任何任务。 / The plan was not confirmed; nothing was run.")
            return None
        return tasks if decision.data is None else self.planner.coerce_tasks(decision.data)

    async def _ask_plan(self, run: RunState, tasks: list[Any], summary: str) -> ConfirmationDecision:
        dicts = [task_to_dict(t) for t in tasks]
        request = ConfirmationRequest(
            call_id="plan",
            tool_name="plan",
            tool_description="Confirm or edit the plan before solving",
            arguments={"tasks": dicts},
            step=0,
            extra={"scope": "plan", "tasks": dicts, "plan_summary": summary},
            timeout=self.confirm_timeout,
        )
        answer = await run.confirm_in_order(request)
        return answer if isinstance(answer, ConfirmationDecision) else ConfirmationDecision(bool(answer))

    async def _solving(self, run: RunState, context: PlanContext, tasks: list[Any]) -> None:
        run.phase = "solving"
        for task in tasks:
            context.result_for(task).status = "pending"
            run.runners[str(task_id(task))] = asyncio.create_task(self._solve_one(run, context, task))
        # Superseded runs too: a restarted task's old run must be gone before aggregation.
        while pending := [runner for runner in (*run.runners.values(), *run.superseded) if not runner.done()]:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)

    async def _solve_one(
        self, run: RunState, context: PlanContext, task: Any, after: asyncio.Task[None] | None = None
    ) -> None:
        tid = task_id(task)
        result = context.result_for(task)
        sub = SubAgentRun(run.forward, run.confirm_in_order, "solver", tid)
        try:
            if after is not None:  # a restart: the superseded run finishes unwinding first
                await asyncio.gather(after, return_exceptions=True)
            result.task, result.output, result.error, result.statistics = task, None, None, []
            async with run.semaphore or contextlib.nullcontext():
                result.status = "running"
                run.emit(SolverEvents.START, {"task": task_to_dict(task)}, tid)
                output = await self._traced_solve(task, context, sub)
            result.output, result.status = output, "completed"
            result.summary = self.solver.summarize(task, output)
            result.agent_name, result.statistics = sub.agent_name or self.solver.name, sub.statistics
            run.emit(SolverEvents.COMPLETED, {"task": task_to_dict(task), "result": _result_content(result)}, tid)
        except asyncio.CancelledError:
            # ``cancel_task`` reports the cancellation itself; a superseded run is not reported at all.
            if asyncio.current_task() not in run.superseded and result.status in ("pending", "running"):
                result.status = "cancelled"
                run.emit(SolverEvents.CANCELLED, {"task": task_to_dict(task)}, tid)
            raise
        except Exception as exc:  # a solver's failure is reported, never swallowed
            logger.warning("plan/solve %s: task %s failed: %s", self.name, tid, exc, exc_info=True)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            run.emit(SolverEvents.FAILED, {"task": task_to_dict(task), "error": result.error}, tid)
        finally:
            run.statistics.extend(sub.statistics)

    async def _traced_solve(self, task: Any, context: PlanContext, sub: SubAgentRun) -> Any:
        span = tracer().start_phase("solver", task_id=task_id(task), agent=self.solver.name)
        try:
            with span.current():
                return await self.solver.solve(task, context, sub)
        except asyncio.CancelledError:
            span.fail("cancelled")
            raise
        except Exception as exc:
            span.fail(type(exc).__name__, str(exc))
            raise
        finally:
            span.end()

    async def _aggregating(self, run: RunState, context: PlanContext) -> None:
        if context.direct:
            return
        run.phase = "aggregating"
        results = context.ordered_results()
        run.emit(AggregateEvents.START, {"context": _context_content(context), "solver_results": _results(results)})
        span = tracer().start_phase("aggregate", results=len(results))
        try:
            with span.current():
                output = await self._aggregate(context, results)
        finally:
            span.end()
        context.output = output
        aggregated = {"context": _context_content(context), "solver_results": _results(results), "output": output}
        run.emit(AggregateEvents.COMPLETED, aggregated)
        counts = context.status_counts()
        statistics = [{**call, "id": number} for number, call in enumerate(run.statistics, 1)]
        summary = {"statistics": statistics, "tasks": len(results), **counts}
        run.emit(PipelineEvents.COMPLETED, summary, metadata={"statistics": statistics})
        self._finish(run, _final_text(output, results))

    async def _aggregate(self, context: PlanContext, results: list[SolverRunResult]) -> Any:
        if self.aggregator is None:
            done = [r for r in results if r.status == "completed"]
            return "\n\n".join(f"## {r.summary or r.task_id}\n{_as_text(r.output)}" for r in done)
        output = self.aggregator(context, results)
        return await output if inspect.isawaitable(output) else output

    def _finish(self, run: RunState, text: str) -> None:
        self.memory.append(Message("assistant", text))
        run.forward(FinalAnswer(text, "stop", 0))

    async def _direct(self, run: RunState, tasks: Any, question: str, plan_summary: str) -> None:
        try:
            coerced = self.planner.coerce_tasks(tasks)
        except TaskCoercionError as exc:
            run.emit(PlanEvents.COERCION_ERROR, {"error": str(exc)})
            return
        self.context = PlanContext(question, coerced, plan_summary, direct=True)
        await self._solving(run, self.context, coerced)

    async def _rerun(self, run: RunState, wanted: Any) -> None:
        context = self.context
        task = None if context is None else context.find_task(wanted)
        if context is None or task is None:
            raise LookupError(f"no task {wanted!r} in the last plan")
        run.emit(SolverEvents.RESTARTED, {"task": task_to_dict(task)}, task_id(task))
        await self._solving(run, context, [task])
        await self._aggregating(run, context)

    # -- controls (called by the server while a run is active) ---------------------------------

    # The controls act and report synchronously: a task cancelled before it first runs never
    # executes its body, so it could not report itself (a client may send restart_task and
    # cancel_task back to back, handled before either task runs).

    def cancel_task(self, wanted: Any) -> bool:
        """Stop one task; the others go on. False when it is not pending or running."""
        run = self._run
        context = self.context
        if run is None or run.phase != "solving" or context is None:
            return False
        task = context.find_task(wanted)
        runner = None if task is None else run.runners.get(str(task_id(task)))
        if task is None or runner is None or runner.done():
            return False
        runner.cancel("cancel_task")
        context.result_for(task).status = "cancelled"
        run.emit(SolverEvents.CANCELLED, {"task": task_to_dict(task)}, task_id(task))
        return True

    def restart_task(self, wanted: Any) -> bool:
        """Run one task again now (cancelling its current run). False outside the solving phase."""
        run = self._run
        context = self.context
        if run is None or run.phase != "solving" or context is None:
            return False
        task = context.find_task(wanted)
        if task is None:
            return False
        key = str(task_id(task))
        previous = run.runners.get(key)
        if previous is not None and previous.done():
            previous = None
        if previous is not None:
            run.superseded.add(previous)
            previous.cancel("restart_task")
        context.result_for(task).status = "pending"
        run.emit(SolverEvents.RESTARTED, {"task": task_to_dict(task)}, task_id(task))
        run.runners[key] = asyncio.create_task(self._solve_one(run, context, task, after=previous))
        return True

    def cancel_plan(self) -> bool:
        """Cancel planning or a plan waiting for confirmation."""
        run = self._run
        if run is None or not run.planning or run.plan_task is None:
            return False
        run.plan_task.cancel("cancel_plan")
        return True

    def replan(self, question: str | None = None) -> bool:
        """Plan again (optionally for a new question) while planning or awaiting confirmation."""
        run = self._run
        if run is None or not run.planning or run.plan_task is None:
            return False
        run.replan_requested, run.replan_question = True, question
        run.plan_task.cancel("replan")
        return True

    @property
    def last_question(self) -> str | None:
        return self.context.question if self.context and self.context.question else None


def _result_content(result: SolverRunResult) -> dict[str, Any]:
    return {
        "output": result.output,
        "summary": result.summary,
        "agent_name": result.agent_name,
        "statistics": result.statistics,
    }


def _results(results: list[SolverRunResult]) -> list[dict[str, Any]]:
    return [result.to_dict() for result in results]


def _context_content(context: PlanContext) -> dict[str, Any]:
    return {"question": context.question, "plan_summary": context.plan_summary, "tasks": len(context.tasks)}


def _as_text(value: Any) -> str:
    """Outputs for people: text as it is, anything else as JSON (not Python's repr)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _final_text(output: Any, results: list[SolverRunResult]) -> str:
    text = _as_text(output)
    cancelled = [str(r.task_id) for r in results if r.status == "cancelled"]
    failed = [str(r.task_id) for r in results if r.status == "failed"]
    if cancelled:
        text += f"\n\n（已取消的任务 / cancelled tasks: {', '.join(cancelled)}）"
    if failed:
        text += f"\n\n（失败的任务 / failed tasks: {', '.join(failed)}）"
    return text

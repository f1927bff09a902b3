"""The two roles a developer writes: a planner that turns a question into tasks, and a solver per task."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from myagent.agent.confirmation import ConfirmCallback
from myagent.agent.events import FinalAnswer, ModelCallFinished, RunEvent, RunFailed
from myagent.agent.toolcall import ToolCallAgent
from myagent.plan_solve.events import Origin, SubAgentEvent
from myagent.plan_solve.types import PlanContext, TaskCoercionError, task_id, task_to_dict

__all__ = ["PlanAgent", "SolverAgent", "SubAgentFailed", "SubAgentRun"]

_JSON_ARRAY = re.compile(r"\[.*\]", re.DOTALL)


class SubAgentFailed(RuntimeError):
    """A planner or solver sub-agent ended with an error."""


class SubAgentRun:
    """Runs one sub-agent: forwards its events tagged with origin and task, records its model calls."""

    def __init__(
        self,
        emit: Callable[[SubAgentEvent], None],
        confirm: ConfirmCallback | None,
        origin: Origin,
        task: str | int | None,
    ) -> None:
        self._emit = emit
        self._confirm = confirm
        self.origin: Origin = origin
        self.task_id = task
        self.statistics: list[dict[str, Any]] = []
        self.agent_name = ""

    async def ask(self, agent: ToolCallAgent, prompt: str) -> str:
        """Run ``agent`` on ``prompt`` and return its final answer.

        Raises:
            SubAgentFailed: the run ended with an error.
        """
        self.agent_name = agent.name
        answer = ""
        async for event in agent.stream(prompt, confirm=self._confirm_with_task):
            self._note(event)
            self._emit(SubAgentEvent(self.origin, self.task_id, agent.name, event))
            if isinstance(event, FinalAnswer):
                answer = event.text
            elif isinstance(event, RunFailed):
                raise SubAgentFailed(event.message)
        return answer

    async def _confirm_with_task(self, request: Any) -> Any:
        if self._confirm is None:
            return False
        extra = {**request.extra, "task_id": self.task_id, "origin": self.origin}
        return await self._confirm(dataclasses.replace(request, extra=extra))

    def _note(self, event: RunEvent) -> None:
        if isinstance(event, ModelCallFinished):
            self.statistics.append(
                {
                    "id": len(self.statistics) + 1,
                    "call_type": "ask",
                    "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "input_tokens": event.usage.prompt_tokens,
                    "output_tokens": event.usage.completion_tokens,
                    "total_tokens": event.usage.total_tokens,
                    "estimated": event.usage.estimated,
                    "duration_ms": round(event.duration * 1000, 1),
                    "model": event.model,
                    "origin": self.origin,
                    "agent": event.agent,
                    "task_id": self.task_id,
                }
            )


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class PlanAgent:
    """Turns a question into tasks. Override :meth:`build_agent` (LLM planning) or :meth:`plan` (any logic).

    Attributes:
        name: shown in statistics.
        task_type: optional dataclass; edited or client-supplied task dicts are converted to it.
    """

    name = "planner"
    task_type: type | None = None

    def build_agent(self, question: str) -> ToolCallAgent | Awaitable[ToolCallAgent]:
        """The planning agent; its final answer is parsed by :meth:`parse_tasks`."""
        raise NotImplementedError(f"{type(self).__name__} must override build_agent() or plan()")

    def plan_prompt(self, question: str) -> str:
        return (
            f"{question}\n\nSplit this into independent tasks. Answer with a JSON array of objects, each with "
            '"id", "title" and "objective".'
        )

    def parse_tasks(self, answer: str, question: str) -> list[Any]:
        """Tasks from the planner's answer: by default the first JSON array in it."""
        match = _JSON_ARRAY.search(answer)
        if match is None:
            raise TaskCoercionError("the planner's answer contains no JSON array of tasks")
        try:
            tasks = json.loads(match.group())
        except json.JSONDecodeError as exc:
            raise TaskCoercionError(f"the planner's task list is not valid JSON: {exc}") from exc
        return self.coerce_tasks(tasks)

    def summarize(self, tasks: list[Any], answer: str) -> str:
        titles = ", ".join(str(task_to_dict(t).get("title") or task_id(t)) for t in tasks)
        return f"{len(tasks)} tasks: {titles}"

    async def plan(self, question: str, run: SubAgentRun) -> tuple[list[Any], str]:
        """``(tasks, plan_summary)`` for ``question``."""
        agent = await _maybe_await(self.build_agent(question))
        answer = await run.ask(agent, self.plan_prompt(question))
        tasks = self.parse_tasks(answer, question)
        return tasks, self.summarize(tasks, answer)

    def coerce_tasks(self, tasks: Any) -> list[Any]:
        """Check (and convert) a task list edited by the user or supplied by a client.

        Raises:
            TaskCoercionError: not a non-empty list of tasks with unique ids, or not convertible.
        """
        if not isinstance(tasks, list) or not tasks:
            raise TaskCoercionError("tasks must be a non-empty list")
        coerced = [self._coerce_one(task) for task in tasks]
        ids = [str(task_id(task)) for task in coerced]
        if len(set(ids)) != len(ids):
            raise TaskCoercionError("task ids must be unique")
        return coerced

    def _coerce_one(self, task: Any) -> Any:
        task_id(task)  # raises when the id is missing
        if self.task_type is None or isinstance(task, self.task_type):
            return task
        if not isinstance(task, dict):
            raise TaskCoercionError(f"task {task!r} must be an object")
        try:
            return self.task_type(**task)
        except TypeError as exc:
            raise TaskCoercionError(f"task {task.get('id')!r} does not fit {self.task_type.__name__}: {exc}") from exc


class SolverAgent:
    """Solves one task. Override :meth:`build_agent` (an agent per task) or :meth:`solve` (any logic)."""

    name = "solver"

    def build_agent(self, task: Any, context: PlanContext) -> ToolCallAgent | Awaitable[ToolCallAgent]:
        raise NotImplementedError(f"{type(self).__name__} must override build_agent() or solve()")

    def task_prompt(self, task: Any, context: PlanContext) -> str:
        body = json.dumps(task_to_dict(task), ensure_ascii=False)
        return f"Overall question: {context.question}\n\nYour task: {body}"

    def extract_result(self, task: Any, answer: str, agent: ToolCallAgent) -> Any:
        """The task's output from the solver agent's final answer (default: the answer text)."""
        return answer

    def summarize(self, task: Any, output: Any) -> str:
        title = task_to_dict(task).get("title") or task_id(task)
        return f"Task {task_id(task)} ({title}) done"

    async def solve(self, task: Any, context: PlanContext, run: SubAgentRun) -> Any:
        agent = await _maybe_await(self.build_agent(task, context))
        answer = await run.ask(agent, self.task_prompt(task, context))
        return self.extract_result(task, answer, agent)

"""``ToolCallAgent``: the loop that alternates model calls and tool calls.

The loop knows nothing about transports: it yields :mod:`myagent.agent.events` and asks for
confirmations through an injected callback. Memory stays valid whatever happens — including
cancellation mid-stream or mid-tool: every assistant tool call gets a tool result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Collection, Iterable, Sequence
from typing import Any

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest, ConfirmCallback
from myagent.agent.events import (
    AnswerDelta,
    FinalAnswer,
    MessageAdded,
    ModelCallFinished,
    RunEvent,
    RunFailed,
    StepStarted,
    ToolCallFinished,
)
from myagent.agent.tool_runner import interrupted_call, run_tool_call
from myagent.agent.usage import UsageLedger
from myagent.errors import AgentRunError, ModelError
from myagent.llm.base import Message, Model, ModelRequest, ModelResponse, TextDelta, ToolCall, ToolChoice
from myagent.telemetry import Span, tracer
from myagent.tool.base import BaseTool
from myagent.tool.collection import ToolCollection
from myagent.tool.result import ToolResult
from myagent.tool.schema import ArgumentError, parse_arguments
from myagent.tool.terminate import TERMINATE_TOOL_NAME

__all__ = ["ToolCallAgent"]

logger = logging.getLogger(__name__)

CANCELLED_RESULT = "Cancelled: the user interrupted the run before this tool call finished."


class ToolCallAgent:
    """A tool-calling agent with multi-turn memory. Build one with ``create_toolcall_agent``.

    One run at a time: ``stream``/``run`` raise ``RuntimeError`` if a run is already active.
    """

    def __init__(
        self,
        *,
        name: str,
        model: Model,
        tools: Iterable[BaseTool] | ToolCollection | None = None,
        description: str = "",
        system_prompt: str | None = None,
        max_steps: int = 10,
        tool_timeout: float | None = 120.0,
        confirm: ConfirmCallback | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        next_step_prompt: str | None = None,
        tool_choice: ToolChoice | None = None,
        max_observe: int | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if tool_choice not in (None, "auto", "none", "required"):
            raise ValueError(f"tool_choice must be 'auto', 'none' or 'required', not {tool_choice!r}")
        if max_observe is not None and max_observe < 1:
            raise ValueError("max_observe must be at least 1 (or None for no limit)")
        self.name = name
        self.description = description
        self.model = model
        self.tools = ToolCollection.of(tools)
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.tool_timeout = tool_timeout
        self.confirm = confirm
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.next_step_prompt = next_step_prompt
        self.tool_choice = tool_choice
        self.max_observe = max_observe
        self.memory: list[Message] = []
        self.usage = UsageLedger()
        self.current_step = 0
        self._running = False
        self._open_calls: list[ToolCall] = []
        self._open_results: dict[str, ToolResult] = {}
        self._run: object | None = None
        self.trace_span: Span = Span()  # the current run's span: parent of its chat and tool spans

    # -- public API ---------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._running

    def clone(self) -> ToolCallAgent:
        """A new agent with the same model, tools and settings, and empty memory and usage.

        Tools and the model are shared with the original (keep per-session state out of them).
        """
        return ToolCallAgent(
            name=self.name,
            description=self.description,
            model=self.model,
            tools=self.tools,
            system_prompt=self.system_prompt,
            max_steps=self.max_steps,
            tool_timeout=self.tool_timeout,
            confirm=self.confirm,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            next_step_prompt=self.next_step_prompt,
            tool_choice=self.tool_choice,
            max_observe=self.max_observe,
        )

    def reset(self) -> None:
        """Forget the conversation (usage statistics are kept)."""
        if self._running:
            raise RuntimeError("cannot reset an agent while it runs")
        self.memory.clear()
        self.current_step = 0

    async def run(self, query: str, *, confirm: ConfirmCallback | None = None) -> str:
        """Run to the end and return the final answer.

        Raises:
            AgentRunError: the run ended with ``RunFailed``.
        """
        async for event in self.stream(query, confirm=confirm):
            if isinstance(event, FinalAnswer):
                return event.text
            if isinstance(event, RunFailed):
                raise AgentRunError(event.message)
        raise AgentRunError("the run ended without an answer")  # pragma: no cover - defensive

    def stream(self, query: str, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[RunEvent, None]:
        """Answer ``query``, yielding every step as it happens."""
        return self._guarded(self._turn(query, confirm or self.confirm))

    def resume(self, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[RunEvent, None]:
        """Finish the tool calls memory left without results (e.g. after a restore), then go on.

        Calls needing confirmation ask again. With nothing unanswered this is a new model step.
        """
        return self._guarded(self._resume(confirm or self.confirm))

    def resume_point(self, asking: Iterable[str] = ()) -> tuple[int, list[str]]:
        """Where :meth:`resume_after_loss` goes on: the step whose model call comes next, and the
        unanswered calls it reports as interrupted (not idempotent, not waiting for a confirmation)."""
        waiting = set(asking)
        interrupted = []
        calls = self.unanswered_calls()
        for call in calls:
            tool = self.tools.get(call.name)
            if call.id not in waiting and not (tool is not None and tool.idempotent):
                interrupted.append(call.id)
        step = max(self.current_step, 1)
        after_tools = bool(calls) or bool(self.memory and self.memory[-1].role == "tool")
        return (step + 1 if after_tools else step), interrupted

    def resume_after_loss(
        self, *, asking: Iterable[str] = (), confirm: ConfirmCallback | None = None
    ) -> AsyncGenerator[RunEvent, None]:
        """Go on with a run whose process died, from the conversation it checkpointed.

        Each unanswered call is run again if its tool is ``idempotent`` or the call was still waiting
        for a confirmation (``asking``: its call ids), which is then asked again; any other may have
        taken effect, so the model is told it was interrupted instead. An answer already complete
        in memory is sent again (one delta, then the final answer) without asking the model;
        otherwise the next step is asked of it.
        """
        _, interrupted = self.resume_point(asking)
        last = self.memory[-1] if self.memory else None
        if last is not None and last.role == "assistant" and not last.tool_calls:
            return self._guarded(self._answered(last.content or ""))
        return self._guarded(self._resume(confirm or self.confirm, interrupted))

    async def _answered(self, answer: str) -> AsyncGenerator[RunEvent, None]:
        step = max(self.current_step, 1)
        if answer:
            yield AnswerDelta(answer, step)  # whatever text of the step a client saw is superseded: send it whole
        yield FinalAnswer(answer, "stop", step)

    def unanswered_calls(self) -> list[ToolCall]:
        """Tool calls of the last assistant message that have no tool result in memory yet."""
        answered: set[str] = set()
        for message in reversed(self.memory):
            if message.role == "tool" and message.tool_call_id:
                answered.add(message.tool_call_id)
            elif message.role == "assistant":
                return [call for call in message.tool_calls if call.id not in answered]
            else:
                return []
        return []

    def snapshot_messages(self) -> list[Message]:
        """Memory as it stands, including results of calls that already finished in an open step."""
        finished = [
            Message("tool", self._observation(self._open_results[call.id]), tool_call_id=call.id, name=call.name)
            for call in self._open_calls
            if call.id in self._open_results
        ]
        return [*self.memory, *finished]

    async def _guarded(self, events: AsyncGenerator[RunEvent, None]) -> AsyncGenerator[RunEvent, None]:
        if self._running:
            raise RuntimeError(f"agent {self.name!r} is already running")
        self._running = True
        run = object()
        self._run = run
        self.trace_span = span = tracer().start_agent(self)
        try:
            async with contextlib.aclosing(events):  # closing the stream closes every inner level now
                async for event in events:
                    span.observe(event)
                    if isinstance(event, FinalAnswer | RunFailed):
                        # The run is over once its last event is out: a consumer that stops iterating
                        # there (``run()`` returns on it) must find the agent free for the next run.
                        self._end_run()
                        span.end()
                    yield event
        except asyncio.CancelledError:
            span.fail("cancelled", "the run was cancelled")
            raise
        finally:
            span.end()
            if self._run is run:  # not already ended (or superseded by a newer run)
                self._end_run()

    async def _turn(self, query: str, confirm: ConfirmCallback | None) -> AsyncGenerator[RunEvent, None]:
        self.current_step = 0  # steps count from 1 in each run; a checkpoint taken now says none began
        yield self._remember(Message("user", query))
        async with contextlib.aclosing(self._loop(confirm, 1)) as events:
            async for event in events:
                yield event

    async def _resume(
        self, confirm: ConfirmCallback | None, interrupted: Collection[str] = ()
    ) -> AsyncGenerator[RunEvent, None]:
        calls = self.unanswered_calls()
        step = max(self.current_step, 1)
        if calls:
            async with contextlib.aclosing(self._run_tools(calls, step, confirm, interrupted)) as events:
                async for event in events:
                    yield event
        next_step, _ = self.resume_point()
        async with contextlib.aclosing(self._loop(confirm, next_step)) as events:
            async for event in events:
                yield event

    def _end_run(self) -> None:
        self._close_open_calls()
        self._running = False
        self._run = None

    # -- the loop -----------------------------------------------------------------------------

    async def _loop(self, confirm: ConfirmCallback | None, first_step: int) -> AsyncGenerator[RunEvent, None]:
        for step in range(first_step, self.max_steps + 1):
            self.current_step = step
            yield StepStarted(step)
            response: ModelResponse | None = None
            async with contextlib.aclosing(self._call_model(step)) as model_events:
                async for event in model_events:
                    if isinstance(event, ModelResponse):
                        response = event
                    else:
                        yield event
                        if isinstance(event, RunFailed):
                            return
            assert response is not None
            # Open the calls before the message is out, so a run closed right after it still
            # answers every call (memory stays valid).
            self._open_calls, self._open_results = list(response.tool_calls), {}
            yield self._remember(Message("assistant", response.text or None, response.tool_calls))
            if not response.tool_calls:
                yield FinalAnswer(response.text, "stop", step)
                return
            async with contextlib.aclosing(self._run_tools(response.tool_calls, step, confirm)) as tool_events:
                async for event in tool_events:
                    yield event
            terminate = [c for c in response.tool_calls if c.name == TERMINATE_TOOL_NAME]
            if terminate and TERMINATE_TOOL_NAME in self.tools:
                yield FinalAnswer(self._terminate_answer(terminate[0], response.text), "terminate", step)
                return
        note = f"Stopped after {self.max_steps} steps without a final answer (max_steps reached)."
        yield self._remember(Message("assistant", note))
        yield FinalAnswer(note, "max_steps", self.max_steps)

    async def _call_model(self, step: int) -> AsyncGenerator[RunEvent | ModelResponse, None]:
        request = ModelRequest(
            messages=self._messages_for_model(),
            tools=self.tools.to_schemas(),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            tool_choice=self.tool_choice,
        )
        started = time.monotonic()
        partial: list[str] = []
        span = tracer().start_chat(self.trace_span, self, request)
        try:
            async for event in self.model.stream(request):
                if isinstance(event, TextDelta):
                    if event.text:
                        partial.append(event.text)
                        yield AnswerDelta(event.text, step)
                else:
                    record = ModelCallFinished(
                        step,
                        event.model or self.model.name,
                        event.usage,
                        time.monotonic() - started,
                        self.name,
                    )
                    self.usage.record(record)
                    span.observe(record)
                    span.observe(event)
                    yield record
                    yield event
                    return
        except ModelError as exc:
            span.fail(type(exc).__name__, str(exc))
            logger.warning("agent %s: model call failed at step %d: %s", self.name, step, exc)
            self._keep_partial(partial)
            yield RunFailed(f"Model call failed: {exc}", "MODEL_ERROR", step)
            return
        except BaseException:
            self._keep_partial(partial)  # cancelled mid-stream: keep what the user already saw
            raise
        finally:
            span.end()
        self._keep_partial(partial)
        yield RunFailed("The model ended its reply without a response.", "MODEL_ERROR", step)

    def _keep_partial(self, partial: Sequence[str]) -> None:
        if partial:
            self._remember(Message("assistant", "".join(partial) + " [interrupted]"))

    async def _run_tools(
        self, calls: Sequence[ToolCall], step: int, confirm: ConfirmCallback | None, interrupted: Collection[str] = ()
    ) -> AsyncGenerator[RunEvent, None]:
        """Run the step's calls concurrently; events as they finish, memory in call order.

        Calls in ``interrupted`` are not run: they are reported as interrupted (see :meth:`resume_after_loss`).
        """
        self._open_calls = list(calls)
        self._open_results = {}
        finished: asyncio.Queue[ToolCallFinished] = asyncio.Queue()
        tasks: list[asyncio.Task[None]] = []
        try:
            for call in calls:
                if call.id in interrupted:
                    started = interrupted_call(call, step)
                else:
                    started = run_tool_call(self, call, step, confirm)
                yield started.event
                tasks.append(asyncio.create_task(self._finish(started.work, finished)))
            for _ in calls:
                done = await finished.get()
                self._open_results[done.call_id] = done.result
                yield done
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        for event in self._close_open_calls():
            yield event

    @staticmethod
    async def _finish(work: Any, queue: asyncio.Queue[ToolCallFinished]) -> None:
        queue.put_nowait(await work)

    def _close_open_calls(self) -> list[MessageAdded]:
        """Write a tool message for every open call, in call order; unfinished ones as cancelled."""
        added = []
        for call in self._open_calls:
            result = self._open_results.get(call.id)
            content = self._observation(result) if result is not None else CANCELLED_RESULT
            added.append(self._remember(Message("tool", content, tool_call_id=call.id, name=call.name)))
        self._open_calls, self._open_results = [], {}
        return added

    # -- helpers ------------------------------------------------------------------------------

    def _messages_for_model(self) -> list[Message]:
        system = [Message("system", self.system_prompt)] if self.system_prompt else []
        # Older agents' per-step nudge: sent after the conversation on every call, never stored, and
        # as a system message so that it is not mistaken for something the user said.
        nudge = [Message("system", self.next_step_prompt)] if self.next_step_prompt else []
        return system + self.memory + nudge

    def _observation(self, result: ToolResult) -> str:
        """What the model sees of a tool result: its text, cut to ``max_observe`` characters."""
        text = str(result)
        if self.max_observe is None or len(text) <= self.max_observe:
            return text
        return text[: self.max_observe] + f"\n[truncated: {self.max_observe} of {len(text)} characters shown]"

    def _remember(self, message: Message) -> MessageAdded:
        self.memory.append(message)
        return MessageAdded(message)

    def _terminate_answer(self, call: ToolCall, text: str) -> str:
        """The ``answer`` argument, else the model's text, else what the tool returned."""
        try:
            answer = parse_arguments(call.arguments).get("answer")
        except ArgumentError:
            answer = None
        if isinstance(answer, str) and answer.strip():
            return answer
        return text or self._last_tool_output(call.id)

    def _last_tool_output(self, call_id: str) -> str:
        for message in reversed(self.memory):
            if message.role == "tool" and message.tool_call_id == call_id:
                return message.content or ""
        return ""

    async def ask_confirmation(
        self, request: ConfirmationRequest, confirm: ConfirmCallback | None
    ) -> ConfirmationDecision:
        """Ask ``confirm``; no callback means refusal (never a silent approval)."""
        if confirm is None:
            return ConfirmationDecision(False, None, "no_handler")
        answer = await confirm(request)
        return answer if isinstance(answer, ConfirmationDecision) else ConfirmationDecision(bool(answer))

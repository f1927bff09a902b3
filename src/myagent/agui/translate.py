"""myagent run events → AG-UI events, one run (HTTP response) at a time.

Text deltas become one text message per stretch of text; tool calls become
``TOOL_CALL_START/ARGS/END`` then ``TOOL_CALL_RESULT``; Plan & Solve milestones become
``CUSTOM`` events named after their myagent event. Sub-agents' text is not sent as messages (their
streams run in parallel and would interleave); their tool calls are.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from myagent.agent.events import (
    AnswerDelta,
    FinalAnswer,
    ModelCallFinished,
    RunFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from myagent.agui.events import event
from myagent.plan_solve.events import PipelineEvent, SubAgentEvent

__all__ = ["RunTranslator"]


class RunTranslator:
    """Keeps the open text message and the usage of the run being streamed."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.message_id: str | None = None  # the text message being streamed
        self.text_since_tools = False
        self.usage: dict[tuple[str, str], list[int]] = {}

    def start(self) -> list[dict[str, Any]]:
        return [event("RUN_STARTED", threadId=self.thread_id, runId=self.run_id)]

    def translate(self, item: Any) -> list[dict[str, Any]]:
        """The AG-UI events for one run event (possibly none)."""
        if isinstance(item, SubAgentEvent):
            inner = item.event
            if isinstance(inner, ModelCallFinished):
                self._count(inner)
            return self._tool_events(inner) if isinstance(inner, ToolCallStarted | ToolCallFinished) else []
        if isinstance(item, PipelineEvent):
            return [*self.close_text(), event("CUSTOM", name=item.name, value=item.content)]
        if isinstance(item, AnswerDelta):
            return self._text(item.text)
        if isinstance(item, ToolCallStarted | ToolCallFinished):
            return [*self.close_text(), *self._tool_events(item)]
        if isinstance(item, ModelCallFinished):
            self._count(item)
        elif isinstance(item, FinalAnswer):
            return self.finish(item)
        elif isinstance(item, RunFailed):
            return self.fail(item.message, item.code)
        return []

    def finish(self, answer: FinalAnswer) -> list[dict[str, Any]]:
        out = self.close_text()
        if answer.text and not self.text_since_tools:  # an answer that was not streamed (e.g. Plan & Solve)
            out += [*self._text(answer.text), *self.close_text()]
        usage = [
            {"provider": provider, "model": model, "inputTokens": i, "outputTokens": o, "totalTokens": i + o}
            for (provider, model), (i, o) in self.usage.items()
        ]
        finished = event(
            "RUN_FINISHED",
            threadId=self.thread_id,
            runId=self.run_id,
            result=answer.text,
            outcome={"type": "success"},
            usage=usage or None,
        )
        return [*out, finished]

    def fail(self, message: str, code: str) -> list[dict[str, Any]]:
        return [*self.close_text(), event("RUN_ERROR", message=message, code=code)]

    def interrupted(self, interrupts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        outcome = {"type": "interrupt", "interrupts": interrupts}
        return [*self.close_text(), event("RUN_FINISHED", threadId=self.thread_id, runId=self.run_id, outcome=outcome)]

    def cancelled(self) -> list[dict[str, Any]]:
        outcome = {"type": "cancelled"}
        return [*self.close_text(), event("RUN_FINISHED", threadId=self.thread_id, runId=self.run_id, outcome=outcome)]

    def close_text(self) -> list[dict[str, Any]]:
        if self.message_id is None:
            return []
        message_id, self.message_id = self.message_id, None
        return [event("TEXT_MESSAGE_END", messageId=message_id)]

    def _text(self, text: str) -> list[dict[str, Any]]:
        out = []
        if self.message_id is None:
            self.message_id = f"msg_{uuid.uuid4().hex}"
            out.append(event("TEXT_MESSAGE_START", messageId=self.message_id, role="assistant"))
        self.text_since_tools = True
        out.append(event("TEXT_MESSAGE_CONTENT", messageId=self.message_id, delta=text))
        return out

    def _tool_events(self, item: ToolCallStarted | ToolCallFinished) -> list[dict[str, Any]]:
        self.text_since_tools = False
        if isinstance(item, ToolCallStarted):
            arguments = item.arguments if isinstance(item.arguments, str) else json.dumps(item.arguments)
            return [
                event("TOOL_CALL_START", toolCallId=item.call_id, toolCallName=item.name),
                event("TOOL_CALL_ARGS", toolCallId=item.call_id, delta=arguments),
                event("TOOL_CALL_END", toolCallId=item.call_id),
            ]
        content = str(item.result)
        return [
            event(
                "TOOL_CALL_RESULT",
                messageId=f"tool_{item.call_id}",
                toolCallId=item.call_id,
                content=content,
                role="tool",
            )
        ]

    def _count(self, call: ModelCallFinished) -> None:
        totals = self.usage.setdefault(("myagent", call.model), [0, 0])
        totals[0] += call.usage.prompt_tokens
        totals[1] += call.usage.completion_tokens

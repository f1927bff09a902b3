"""Assembling decoded chat-completion chunks (plain dicts) into one :class:`ModelResponse`.

Chunks are read with ``.get`` and type checks rather than validated into objects: non-OpenAI
servers omit or null fields freely, and building an object per chunk cost more than everything
else on the streaming path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from myagent.errors import ModelResponseError
from myagent.llm.base import ModelRequest, ModelResponse, ToolCall, Usage, estimate_tokens

__all__ = ["StreamAssembler"]


@dataclass
class _PendingToolCall:
    """One tool call being assembled from deltas sharing the same ``index``."""

    id: str = ""
    name: str = ""
    argument_parts: list[str] = field(default_factory=list)


class StreamAssembler:
    """Accumulates the chunks of one streamed completion."""

    def __init__(self) -> None:
        self.saw_chunk = False  # set by the reader: any chunk at all arrived
        self.saw_choice = False
        self.text_parts: list[str] = []
        self.tool_calls: dict[int, _PendingToolCall] = {}
        self.finish_reason: str | None = None
        self.model = ""
        self.usage: tuple[int, int] | None = None

    def add(self, chunk: dict[str, Any]) -> str:
        """Take one decoded chunk into account; return the answer text it adds (may be empty)."""
        model = chunk.get("model")
        if model and isinstance(model, str):
            self.model = model
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = (_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return ""
        text = ""
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index") not in (0, None):
                continue  # only the first choice is used; we never ask for n > 1
            self.saw_choice = True
            finish = choice.get("finish_reason")
            if finish and isinstance(finish, str):
                self.finish_reason = finish
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            content = delta.get("content")
            if content and isinstance(content, str):
                text += content
            tool_deltas = delta.get("tool_calls")
            if tool_deltas and isinstance(tool_deltas, list):
                for tool_delta in tool_deltas:
                    if isinstance(tool_delta, dict):
                        self._add_tool_delta(tool_delta)
        if text:
            self.text_parts.append(text)
        return text

    def _add_tool_delta(self, tool_delta: dict[str, Any]) -> None:
        call_id = tool_delta.get("id")
        call_id = call_id if isinstance(call_id, str) else ""
        index = tool_delta.get("index")
        if not isinstance(index, int):
            # Some servers send each call whole, without an index: match by id or start a new one.
            index = next(
                (i for i, call in self.tool_calls.items() if call_id and call.id == call_id),
                max(self.tool_calls, default=-1) + 1,
            )
        pending = self.tool_calls.setdefault(index, _PendingToolCall())
        if call_id and not pending.id:
            pending.id = call_id
        function = tool_delta.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        # Some servers repeat the full name in every chunk, a few stream it in pieces.
        if name and isinstance(name, str) and name != pending.name:
            pending.name += name
        arguments = function.get("arguments")
        if arguments and isinstance(arguments, str):
            pending.argument_parts.append(arguments)

    def finish(self, request: ModelRequest, *, default_model: str) -> ModelResponse:
        """Build the final response.

        Raises:
            ModelResponseError: no choice ever arrived, or a tool call has no name.
        """
        if not self.saw_choice:
            raise ModelResponseError("model returned no choices")
        text = "".join(self.text_parts)
        calls: list[ToolCall] = []
        for index in sorted(self.tool_calls):
            pending = self.tool_calls[index]
            if not pending.name:
                raise ModelResponseError(f"model returned a tool call without a name (index {index})")
            calls.append(
                ToolCall(
                    id=pending.id or f"call_{uuid.uuid4().hex}",
                    name=pending.name,
                    arguments="".join(pending.argument_parts) or "{}",
                )
            )
        if self.usage is not None:
            usage = Usage(prompt_tokens=self.usage[0], completion_tokens=self.usage[1])
        else:
            prompt: list[Any] = [message.to_dict() for message in request.messages]
            prompt.extend(dict(tool) for tool in request.tools)
            completion = estimate_tokens(text) + sum(
                estimate_tokens(call.name) + estimate_tokens(call.arguments) for call in calls
            )
            usage = Usage(prompt_tokens=estimate_tokens(prompt), completion_tokens=completion, estimated=True)
        return ModelResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=usage,
            finish_reason=self.finish_reason,
            model=self.model or default_model,
        )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

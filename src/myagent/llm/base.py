"""The model interface the agent loop consumes.

A :class:`Model` turns a :class:`ModelRequest` (conversation + tool schemas) into a stream of
:class:`TextDelta` events followed by exactly one :class:`ModelResponse`. Providers translate
their own errors into :class:`myagent.errors.ModelError` at their boundary.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelStreamEvent",
    "Role",
    "TextDelta",
    "ToolCall",
    "ToolChoice",
    "Usage",
    "estimate_tokens",
]

Role = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "none", "required"]


@dataclass(frozen=True)
class ToolCall:
    """One tool call requested by the model; ``arguments`` is the raw JSON text the model produced."""

    id: str
    name: str
    arguments: str = "{}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        function = data.get("function") or {}
        return cls(id=str(data["id"]), name=str(function["name"]), arguments=str(function.get("arguments") or "{}"))


@dataclass(frozen=True)
class Message:
    """One conversation message in chat-completions shape."""

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        role = data["role"]
        if role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"unknown message role {role!r}")
        content = data.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError("message content must be a string or null")
        calls = tuple(ToolCall.from_dict(call) for call in data.get("tool_calls") or ())
        return cls(
            role=role,
            content=content,
            tool_calls=calls,
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )


@dataclass(frozen=True)
class Usage:
    """Token usage of one model call; ``estimated`` is true when the endpoint reported none."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True)
class ModelRequest:
    """What the agent sends to a model for one call."""

    messages: Sequence[Message]
    tools: Sequence[Mapping[str, Any]] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    #: ``"auto"`` (the model decides), ``"none"`` (answer without tools) or ``"required"``; ``None``
    #: leaves it to the endpoint's default (``"auto"`` when tools are offered).
    tool_choice: ToolChoice | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text, in the order the model produced it."""

    text: str


@dataclass(frozen=True)
class ModelResponse:
    """The complete reply of one model call; always the last event of a stream."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str = ""


ModelStreamEvent = TextDelta | ModelResponse


class Model(abc.ABC):
    """A chat model that can call tools. Implementations must be safe to share between agents."""

    #: Model identifier reported in usage statistics.
    name: str = "model"

    @abc.abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """Yield text deltas as they arrive, then exactly one :class:`ModelResponse`.

        Raises:
            ModelError: the endpoint failed (after any retries the model does itself).
        """

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Run :meth:`stream` to the end and return its response."""
        response: ModelResponse | None = None
        async for event in self.stream(request):
            if isinstance(event, ModelResponse):
                response = event
        if response is None:
            from myagent.errors import ModelResponseError

            raise ModelResponseError(f"{type(self).__name__} ended its stream without a response")
        return response


def estimate_tokens(value: object) -> int:
    """Rough token count (about four characters a token, one per CJK character)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return cjk + max(0, len(text) - cjk + 3) // 4

"""Models for tests and demos: ``ScriptedModel`` plays back replies, ``FunctionModel`` asks a callback.

Both stream text in small deltas and record every request, so a test can assert what the model
was sent (e.g. that restored history reaches the model).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from myagent.llm.base import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    estimate_tokens,
)

__all__ = ["FunctionModel", "ScriptError", "ScriptedModel", "ScriptedReply", "call", "split_text"]

_call_ids = itertools.count(1)


class ScriptError(AssertionError):
    """A scripted model was called more, or fewer, times than its script says."""


def call(name: str, arguments: dict[str, Any] | str | None = None, *, id: str | None = None) -> ToolCall:
    """A tool call for a script; ``arguments`` may be a dict or raw (possibly malformed) JSON text."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {}, ensure_ascii=False)
    return ToolCall(id=id or f"call_{next(_call_ids)}", name=name, arguments=raw)


@dataclass
class ScriptedReply:
    """One model reply.

    Attributes:
        text: answer text, streamed in ``chunk_size`` pieces.
        tool_calls: tool calls returned with the reply.
        error: raised instead of replying (e.g. ``ModelError("boom")``).
        usage: reported usage; estimated from the text when ``None``.
        hold_after: pause after this many deltas until :meth:`ScriptedModel.release` (for
            cancellation tests); :attr:`ScriptedModel.holding` is set while paused.
    """

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    error: BaseException | None = None
    usage: Usage | None = None
    chunk_size: int = 4
    hold_after: int | None = None


Script = str | ToolCall | Sequence[ToolCall] | ScriptedReply | ModelResponse | BaseException


def _as_reply(item: Script) -> ScriptedReply:
    if isinstance(item, ScriptedReply):
        return item
    if isinstance(item, str):
        return ScriptedReply(text=item)
    if isinstance(item, ToolCall):
        return ScriptedReply(tool_calls=[item])
    if isinstance(item, ModelResponse):
        return ScriptedReply(text=item.text, tool_calls=item.tool_calls, usage=item.usage)
    if isinstance(item, BaseException):
        return ScriptedReply(error=item)
    return ScriptedReply(tool_calls=list(item))


def split_text(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))]


class _Streaming(Model):
    """Shared streaming of a ``ScriptedReply`` and request recording."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[ModelRequest] = []
        self.holding = asyncio.Event()
        self._release = asyncio.Event()

    def release(self) -> None:
        """Let a reply paused by ``hold_after`` continue."""
        self._release.set()

    async def _play(self, request: ModelRequest, reply: ScriptedReply) -> AsyncIterator[ModelStreamEvent]:
        if reply.error is not None:
            raise reply.error
        for index, piece in enumerate(split_text(reply.text, reply.chunk_size)):
            if reply.hold_after is not None and index == reply.hold_after:
                self.holding.set()
                try:
                    await self._release.wait()
                finally:  # also when cancelled: a later hold must not look already reached
                    self._release.clear()
                    self.holding.clear()
            yield TextDelta(piece)
            await asyncio.sleep(0)
        usage = reply.usage or Usage(
            estimate_tokens([m.to_dict() for m in request.messages]),
            estimate_tokens(reply.text) + estimate_tokens([c.to_dict() for c in reply.tool_calls]),
            estimated=True,
        )
        finish = "tool_calls" if reply.tool_calls else "stop"
        yield ModelResponse(reply.text, tuple(reply.tool_calls), usage, finish, self.name)


class ScriptedModel(_Streaming):
    """Plays back a fixed list of replies, one per model call.

    A call after the script is used up raises :class:`ScriptError`; call
    :meth:`assert_finished` at the end of a test to fail on replies that were never requested.
    """

    def __init__(self, replies: Iterable[Script], *, name: str = "scripted") -> None:
        super().__init__(name)
        self._replies = [_as_reply(item) for item in replies]
        self._next = 0

    def add(self, *replies: Script) -> None:
        self._replies.extend(_as_reply(item) for item in replies)

    @property
    def remaining(self) -> int:
        return len(self._replies) - self._next

    def assert_finished(self) -> None:
        if self.remaining:
            raise ScriptError(f"{self.remaining} scripted replies were never requested")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.requests.append(request)
        if self._next >= len(self._replies):
            raise ScriptError(f"unexpected model call #{len(self.requests)}: the script has no reply left")
        reply = self._replies[self._next]
        self._next += 1
        async for event in self._play(request, reply):
            yield event


ReplyFunction = Callable[[ModelRequest], Script | Awaitable[Script]]


class FunctionModel(_Streaming):
    """Asks ``function(request)`` for each reply (sync or async); it returns anything a script holds."""

    def __init__(self, function: ReplyFunction, *, name: str = "function") -> None:
        super().__init__(name)
        self._function = function

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.requests.append(request)
        result = self._function(request)
        if inspect.isawaitable(result):
            result = await result
        async for event in self._play(request, _as_reply(result)):
            yield event

"""``RunAgentInput``: what an AG-UI client posts, validated, and its messages as myagent memory."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic

from myagent.llm.base import Message, ToolCall

__all__ = ["InputError", "ResumeEntry", "RunInput", "parse_run_input", "seed_messages", "user_text"]

MAX_MESSAGES = 2_000
_ID = pydantic.constr(min_length=1, max_length=200)


class InputError(ValueError):
    """The request body is not a usable ``RunAgentInput`` (the client gets HTTP 400 with this message)."""


class ResumeEntry(pydantic.BaseModel):
    """An answer to one interrupt of the previous run."""

    model_config = pydantic.ConfigDict(extra="allow")

    interruptId: _ID  # type: ignore[valid-type]
    status: Literal["resolved", "cancelled"] = "resolved"
    payload: Any = None


class RunInput(pydantic.BaseModel):
    """The fields of ``RunAgentInput`` myagent uses; the others are accepted and ignored."""

    model_config = pydantic.ConfigDict(extra="allow")

    threadId: _ID  # type: ignore[valid-type]
    runId: _ID  # type: ignore[valid-type]
    messages: list[dict[str, Any]] = pydantic.Field(default_factory=list, max_length=MAX_MESSAGES)
    resume: list[ResumeEntry] | None = None
    forwardedProps: Any = None


def parse_run_input(body: bytes) -> RunInput:
    """Decode and validate a request body.

    Raises:
        InputError: not JSON, not an object, or a field of the wrong type.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InputError("the body must be a RunAgentInput object")
    try:
        return RunInput.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InputError(f"invalid RunAgentInput: {where}: {first['msg']}") from None


def user_text(run: RunInput) -> str | None:
    """The text of the last message when it is the user's (the question of this run)."""
    if not run.messages or run.messages[-1].get("role") != "user":
        return None
    return _text(run.messages[-1].get("content"))


def seed_messages(run: RunInput) -> list[Message]:
    """The conversation before the last user message, as memory for a thread the server does not know yet."""
    seeded: list[Message] = []
    for item in run.messages[:-1]:
        message = _message(item)
        if message is not None:
            seeded.append(message)
    return seeded


def _message(item: dict[str, Any]) -> Message | None:
    role = item.get("role")
    content = _text(item.get("content"))
    if role == "user" and content:
        return Message("user", content)
    if role == "assistant":
        calls = tuple(call for call in map(_tool_call, item.get("toolCalls") or []) if call is not None)
        return Message("assistant", content, calls) if content or calls else None
    if role == "tool" and isinstance(item.get("toolCallId"), str):
        return Message("tool", content or "", tool_call_id=item["toolCallId"])
    return None  # system/developer messages: the agent has its own system prompt


def _tool_call(data: Any) -> ToolCall | None:
    if not isinstance(data, dict) or not isinstance(data.get("function"), dict):
        return None
    function = data["function"]
    if not isinstance(data.get("id"), str) or not isinstance(function.get("name"), str):
        return None
    arguments = function.get("arguments")
    return ToolCall(data["id"], function["name"], arguments if isinstance(arguments, str) else "{}")


def _text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a multimodal content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(p for p in parts if isinstance(p, str)) or None
    return None

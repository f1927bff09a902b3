"""``OfflineModel``: a deterministic stand-in used when no model endpoint is configured.

It is not a language model. It reads the last user message, calls the tool whose name and
description share the most words with it — provided every required argument can be filled from
the text (enum values it mentions, numbers, quoted strings) — and then streams an answer built
from the tool outputs. That is enough to see the whole event flow (tool calls, confirmations,
results, streamed answers) with no network.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from myagent.llm.base import (
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    estimate_tokens,
)

__all__ = ["OfflineModel"]

_MAX_PARALLEL_CALLS = 4
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_QUOTED = re.compile(r"[\"“「『']([^\"”」』']+)[\"”」』']")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# fmt: off
#: Words too common to say which tool a question is about ("what is the weather in ...").
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "at", "be", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it",
    "me", "of", "on", "or", "please", "the", "this", "to", "what", "when", "where", "which", "who", "why",
    "with", "you", "your",
})
# fmt: on
#: The built-in ``terminate`` tool; the offline model ends runs with a plain answer instead.
_TERMINATE = "terminate"


class OfflineModel(Model):
    """Deterministic rule-based replies; see the module docstring.

    Args:
        agent_name: used when introducing itself.
        agent_description: used when introducing itself.
        chunk_size: characters per streamed delta.
        delay: seconds between deltas (0 keeps tests fast; a demo may slow it down).
    """

    def __init__(
        self,
        *,
        agent_name: str = "MyAgent",
        agent_description: str = "",
        chunk_size: int = 6,
        delay: float = 0.0,
    ) -> None:
        self.name = "offline"
        self.agent_name = agent_name
        self.agent_description = agent_description
        self.chunk_size = chunk_size
        self.delay = delay

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        messages = list(request.messages)
        question = _last_user_text(messages)
        chinese = bool(_CJK.search(question)) or not question
        results = _tool_results_since_last_user(messages)
        calls: tuple[ToolCall, ...] = ()
        if results:
            text = _summarise(results, chinese)
        else:
            calls = tuple(_choose_calls(question, request.tools, _call_prefix(messages)))
            text = "" if calls else self._introduce(question, request.tools, chinese)
        for start in range(0, len(text), self.chunk_size):
            yield TextDelta(text[start : start + self.chunk_size])
            await asyncio.sleep(self.delay)
        usage = Usage(
            estimate_tokens([m.to_dict() for m in messages]),
            estimate_tokens(text) + estimate_tokens([c.to_dict() for c in calls]),
            estimated=True,
        )
        yield ModelResponse(text, calls, usage, "tool_calls" if calls else "stop", self.name)

    def _introduce(self, question: str, tools: Sequence[Mapping[str, Any]], chinese: bool) -> str:
        names = "、".join(_tool_name(t) for t in tools) if chinese else ", ".join(_tool_name(t) for t in tools)
        about = f"（{self.agent_description}）" if chinese and self.agent_description else ""
        if not chinese and self.agent_description:
            about = f" ({self.agent_description})"
        if chinese:
            text = f"你好！我是 {self.agent_name}{about}，目前运行在离线模式（未配置模型接口）。"
            text += f"我可以使用这些工具：{names}。" if names else ""
            return text + f"你刚才说的是：“{question}”。"
        text = f"Hello! I am {self.agent_name}{about}, running in offline mode (no model endpoint configured)."
        text += f" Tools I can use: {names}." if names else ""
        return text + f' You said: "{question}".'


def _last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content or ""
    return ""


def _tool_results_since_last_user(messages: Sequence[Message]) -> list[tuple[ToolCall, str]]:
    calls: dict[str, ToolCall] = {}
    results: list[tuple[ToolCall, str]] = []
    for message in messages:
        if message.role == "user":
            calls, results = {}, []
        for tool_call in message.tool_calls:
            calls[tool_call.id] = tool_call
        if message.role == "tool" and message.tool_call_id in calls:
            results.append((calls[message.tool_call_id], message.content or ""))
    return results


def _summarise(results: Sequence[tuple[ToolCall, str]], chinese: bool) -> str:
    lines = ["根据工具结果：" if chinese else "Here is what the tools returned:"]
    for tool_call, output in results:
        args = _format_args(tool_call.arguments)
        lines.append(f"- {tool_call.name}({args}): {output}")
    return "\n".join(lines)


def _format_args(raw: str) -> str:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw
    if not isinstance(value, dict):
        return raw
    return ", ".join(f"{k}={v}" for k, v in value.items())


def _tool_name(tool: Mapping[str, Any]) -> str:
    return str(tool.get("function", {}).get("name", ""))


def _keywords(text: str) -> set[str]:
    """Latin words and CJK character pairs: a crude but language-neutral overlap measure."""
    lowered = text.lower().replace("_", " ")
    words = set(_WORD.findall(lowered)) - _STOPWORDS
    han = "".join(ch if _CJK.match(ch) else " " for ch in lowered)
    for run in han.split():
        words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return words


def _call_prefix(messages: Sequence[Message]) -> str:
    """Deterministic, yet distinct for different conversations (parallel sub-agents must not share ids)."""
    digest = hashlib.sha1(json.dumps([m.to_dict() for m in messages], ensure_ascii=False).encode()).hexdigest()
    return f"call_offline_{len(messages)}_{digest[:8]}"


def _choose_calls(question: str, tools: Sequence[Mapping[str, Any]], prefix: str) -> list[ToolCall]:
    asked = _keywords(question)
    best: tuple[int, Mapping[str, Any], list[dict[str, Any]]] | None = None
    for tool in tools:
        function = tool.get("function", {})
        if function.get("name") == _TERMINATE:
            continue
        score = len(asked & _keywords(f"{function.get('name', '')} {function.get('description', '')}"))
        if score == 0 or (best is not None and score <= best[0]):
            continue
        fillings = _fill_arguments(question, function.get("parameters") or {})
        if fillings:
            best = (score, tool, fillings)
    if best is None:
        return []
    name = _tool_name(best[1])
    return [
        ToolCall(id=f"{prefix}_{i}", name=name, arguments=json.dumps(args, ensure_ascii=False))
        for i, args in enumerate(best[2][:_MAX_PARALLEL_CALLS])
    ]


def _fill_arguments(question: str, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Argument sets for one call per mentioned enum value; empty when a required one is unknown."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    base: dict[str, Any] = {}
    variants: list[tuple[str, list[Any]]] = []
    for name in required:
        prop = properties.get(name) or {}
        if "enum" in prop:
            mentioned = [value for value in prop["enum"] if str(value) and str(value) in question]
            if not mentioned:
                return []
            variants.append((name, mentioned))
            continue
        value = _scalar_from_text(question, prop.get("type"))
        if value is None:
            return []
        base[name] = value
    sets = [base]
    for name, values in variants[:1]:  # fan out over the first enum only
        sets = [{**base, name: value} for value in values]
    for name, values in variants[1:]:
        for args in sets:
            args[name] = values[0]
    return sets


def _scalar_from_text(question: str, kind: Any) -> Any:
    if kind in ("integer", "number"):
        match = _NUMBER.search(question)
        if match is None:
            return None
        return int(float(match.group())) if kind == "integer" else float(match.group())
    if kind in ("string", None):
        quoted = _QUOTED.search(question)
        return quoted.group(1) if quoted else None
    return None

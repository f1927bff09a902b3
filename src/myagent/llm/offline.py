"""``OfflineModel``: a deterministic stand-in used when no model endpoint is configured.

It is not a language model. It reads the last user message and calls the tool that matches it
best — words shared with the tool's name, description and argument names (across Chinese and
English through a small glossary), enum values the question mentions — provided every required
argument can be filled from the text (enum values, numbers, quoted strings). A question may also
spell the arguments as one JSON object (``... {"sql": "SELECT ...", "x_field": "month"}``): a tool
whose parameters that object fits exactly (every required one, no unknown one) is called with it,
which lets examples and tests drive a tool with structured arguments offline. A follow-up naming
only a new subject ("上海呢？", "what about Paris?") repeats the previous turn's tool call with that
subject. Once tools have answered it streams an answer built from their outputs. That is enough to
see the whole event flow (tool calls, confirmations, results, streamed answers) with no network.
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
#: Words a question and a tool description may use in different languages: each term found in a
#: text adds its English word, so "天气" in a question meets "weather" in a description (and back).
_GLOSSARY = {
    "天气": "weather", "气温": "temperature", "温度": "temperature", "预报": "forecast", "城市": "city",
    "预警": "alert", "警报": "alert", "订阅": "subscribe", "删除": "delete", "搜索": "search", "查找": "search",
    "查询": "query", "时间": "time", "几点": "time", "日期": "date", "计算": "calculate", "翻译": "translate",
    "文件": "file", "邮件": "email", "发送": "send", "新闻": "news", "股票": "stock", "价格": "price",
    "图表": "chart", "报告": "report", "销售": "sales", "数据": "data", "汇率": "exchange", "地图": "map",
    "用户": "user", "订单": "order", "提醒": "reminder", "日程": "calendar", "音乐": "music", "播放": "play",
}
# fmt: on
#: A follow-up naming only a new subject: "上海呢？", "那上海呢", "What about Paris?", "and tomorrow?".
_FOLLOW_UP_ZH = re.compile(r"(?:那么?|还有|那个)?\s*(?P<subject>.+?)\s*呢")
_FOLLOW_UP_EN = re.compile(r"(?i)(?:what about|how about|and)\s+(?P<subject>.+)")
_MAX_SUBJECT = 20
_MAX_SUBJECT_WORDS = 3
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
            tools = () if request.tool_choice == "none" else request.tools
            calls = tuple(_choose_calls(question, tools, _call_prefix(messages), _previous_call(messages)))
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


def _stem(word: str) -> str:
    """``alerts`` and ``alert`` are the same word here (crude, and enough for tool names)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _keywords(text: str) -> set[str]:
    """Latin words, CJK character pairs, and the English words of glossary terms the text contains.

    A crude but language-neutral overlap measure: "北京天气" and "the weather" share ``weather``.
    """
    lowered = text.lower().replace("_", " ")
    words = {_stem(word) for word in _WORD.findall(lowered)} - _STOPWORDS
    han = "".join(ch if _CJK.match(ch) else " " for ch in lowered)
    for run in han.split():
        words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    words.update(english for term, english in _GLOSSARY.items() if term in lowered)
    return words


def _tool_text(function: Mapping[str, Any]) -> str:
    """Everything that says what a tool is about: name, description, argument names and their texts."""
    parts = [str(function.get("name", "")), str(function.get("description", ""))]
    properties = (function.get("parameters") or {}).get("properties") or {}
    for name, prop in properties.items():
        parts.append(str(name))
        if isinstance(prop, Mapping):
            parts.append(str(prop.get("description", "")))
            parts.extend(str(value) for value in prop.get("enum") or ())
    return " ".join(parts)


def _mentioned_enum_values(question: str, schema: Mapping[str, Any]) -> int:
    properties = schema.get("properties") or {}
    return sum(
        1
        for prop in properties.values()
        if isinstance(prop, Mapping)
        for value in prop.get("enum") or ()
        if str(value) and str(value) in question
    )


def _call_prefix(messages: Sequence[Message]) -> str:
    """Deterministic, yet distinct for different conversations (parallel sub-agents must not share ids)."""
    digest = hashlib.sha1(json.dumps([m.to_dict() for m in messages], ensure_ascii=False).encode()).hexdigest()
    return f"call_offline_{len(messages)}_{digest[:8]}"


def _previous_call(messages: Sequence[Message]) -> ToolCall | None:
    """The last tool call of an earlier turn (what a follow-up such as "上海呢？" refers to)."""
    seen_user = False
    for message in reversed(messages):
        if message.role == "user":
            if seen_user:
                continue
            seen_user = True
        elif seen_user and message.tool_calls:
            calls = [c for c in message.tool_calls if c.name != _TERMINATE]
            if calls:
                return calls[-1]
    return None


def _choose_calls(
    question: str, tools: Sequence[Mapping[str, Any]], prefix: str, previous: ToolCall | None = None
) -> list[ToolCall]:
    offered = {_tool_name(t): t for t in tools if _tool_name(t) != _TERMINATE}
    chosen: tuple[str, list[dict[str, Any]]] | None = None
    subject = _follow_up_subject(question)
    if subject is not None and previous is not None and previous.name in offered:
        function = offered[previous.name].get("function", {})
        fillings = _follow_up_arguments(question, subject, previous, function.get("parameters") or {})
        chosen = (previous.name, fillings) if fillings else None
    if chosen is None:
        chosen = _best_match(question, offered)
    if chosen is None:
        return []
    name, fillings = chosen
    return [
        ToolCall(id=f"{prefix}_{i}", name=name, arguments=json.dumps(args, ensure_ascii=False))
        for i, args in enumerate(fillings[:_MAX_PARALLEL_CALLS])
    ]


def _best_match(question: str, offered: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]] | None:
    """The tool sharing the most words with the question (a mentioned enum value counts double).

    A JSON object of arguments in the question that fits a tool's parameters outranks any word count.
    """
    asked = _keywords(question)
    spelled = _spelled_arguments(question)
    best: tuple[int, str, list[dict[str, Any]]] | None = None
    for name, tool in offered.items():
        function = tool.get("function", {})
        schema = function.get("parameters") or {}
        fits = spelled is not None and _fits_schema(spelled, schema)
        score = len(asked & _keywords(_tool_text(function))) + 2 * _mentioned_enum_values(question, schema)
        score += _SPELLED_BONUS if fits else 0
        if score == 0 or (best is not None and score <= best[0]):
            continue
        fillings = [dict(spelled)] if fits and spelled is not None else _fill_arguments(question, schema)
        if fillings:
            best = (score, name, fillings)
    return None if best is None else (best[1], best[2])


_SPELLED_BONUS = 1000  # more than any count of shared words


def _spelled_arguments(question: str) -> dict[str, Any] | None:
    """The JSON object from the question's first ``{`` to its last ``}``, if that is one."""
    start, end = question.find("{"), question.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(question[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def _fits_schema(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    """Every required parameter given, and no parameter the schema does not declare."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    return required <= arguments.keys() <= properties.keys()


def _follow_up_subject(question: str) -> str | None:
    """``上海`` for "那上海呢？", ``Paris`` for "What about Paris?"; ``None`` when it is no follow-up."""
    text = question.strip().rstrip("?？!！.。 ")
    match = _FOLLOW_UP_ZH.fullmatch(text) or _FOLLOW_UP_EN.fullmatch(text)
    if match is None:
        return None
    subject = match.group("subject").strip(" ，,\"“”'")
    # "and what is the time?" is a new question, not a new subject
    return subject if 0 < len(subject) <= _MAX_SUBJECT and len(subject.split()) <= _MAX_SUBJECT_WORDS else None


def _follow_up_arguments(
    question: str, subject: str, previous: ToolCall, schema: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The previous call's arguments with the new subject put where it fits; empty when it fits nowhere."""
    try:
        base = json.loads(previous.arguments or "{}")
    except json.JSONDecodeError:
        return []
    if not isinstance(base, dict):
        return []
    properties: Mapping[str, Any] = schema.get("properties") or {}
    for name, prop in properties.items():
        values = [v for v in (prop or {}).get("enum") or () if str(v) and str(v) in question]
        if values:
            return [{**base, name: value} for value in values]
    for name in [*(schema.get("required") or []), *properties]:
        prop = properties.get(name) or {}
        if "enum" in prop or name not in base:  # only what the previous call set: "杭州呢" is no date
            continue
        value = _scalar_from_text(subject, prop.get("type"), bare=True)
        if value is not None:
            return [{**base, name: value}]
    return []


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


def _scalar_from_text(text: str, kind: Any, *, bare: bool = False) -> Any:
    """A number, or a quoted string (``bare``: the whole text when nothing is quoted)."""
    if kind in ("integer", "number"):
        match = _NUMBER.search(text)
        if match is None:
            return None
        return int(float(match.group())) if kind == "integer" else float(match.group())
    if kind in ("string", None):
        quoted = _QUOTED.search(text)
        if quoted:
            return quoted.group(1)
        return text if bare and not _NUMBER.fullmatch(text) else None
    return None

"""``show_content``: a short human-readable line for each downstream event (Chinese or English)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from myagent.protocol.names import (
    AgentEvents,
    AggregateEvents,
    PipelineEvents,
    PlanEvents,
    SolverEvents,
    SystemEvents,
)
from myagent.protocol.rules import ToolStatuses

__all__ = ["Language", "render_show_content"]

Language = Literal["zh", "en"]

_MAX_CHARS = 200

# (zh, en) templates; fields come from metadata, {content} from the event's content.
_TEMPLATES: dict[str, tuple[str, str]] = {
    AgentEvents.SESSION_CREATED: ("会话已创建", "Session created"),
    AgentEvents.THINKING: ("正在思考…", "Thinking…"),
    AgentEvents.TOOL_CALL: ("调用工具：{tool_name}", "Calling tool: {tool_name}"),
    AgentEvents.USER_CONFIRM: ("需要确认：{tool_name}", "Confirmation needed: {tool_name}"),
    AgentEvents.TOOL_RESULT: ("工具 {tool_name}：{status}", "Tool {tool_name}: {status}"),
    AgentEvents.FINAL_ANSWER: ("{content}", "{content}"),
    AgentEvents.ERROR: ("出错了：{content}", "Error: {content}"),
    AgentEvents.INTERRUPTED: ("已中断", "Interrupted"),
    AgentEvents.SESSION_END: ("会话已结束", "Session ended"),
    AgentEvents.STATE_EXPORTED: ("会话状态已导出", "Session state exported"),
    AgentEvents.STATE_RESTORED: ("会话已恢复", "Session restored"),
    SystemEvents.CONNECTED: ("已连接到服务器", "Connected to the server"),
    SystemEvents.NOTICE: ("{content}", "{content}"),
    SystemEvents.ERROR: ("错误：{content}", "Error: {content}"),
    PlanEvents.START: ("开始规划", "Planning"),
    PlanEvents.COMPLETED: ("规划完成", "Plan ready"),
    PlanEvents.CANCELLED: ("规划已取消", "Planning cancelled"),
    PlanEvents.COERCION_ERROR: ("任务列表无效", "Invalid task list"),
    SolverEvents.START: ("开始任务 {task_id}", "Task {task_id} started"),
    SolverEvents.COMPLETED: ("任务 {task_id} 完成", "Task {task_id} done"),
    SolverEvents.FAILED: ("任务 {task_id} 失败", "Task {task_id} failed"),
    SolverEvents.CANCELLED: ("任务 {task_id} 已取消", "Task {task_id} cancelled"),
    SolverEvents.RESTARTED: ("任务 {task_id} 已重启", "Task {task_id} restarted"),
    AggregateEvents.START: ("正在汇总", "Aggregating"),
    AggregateEvents.COMPLETED: ("汇总完成", "Aggregation done"),
    PipelineEvents.COMPLETED: ("全部完成", "All done"),
}

_STATUS_ZH = {
    ToolStatuses.SUCCESS: "完成",
    ToolStatuses.FAILED: "失败",
    ToolStatuses.REFUSED: "未执行（已拒绝）",
    ToolStatuses.CANCELLED: "已取消",
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render_show_content(
    event: str, content: Any, metadata: Mapping[str, Any] | None, lang: Language = "zh"
) -> str | None:
    """The line for ``event``, or ``None`` for events that need none (deltas, heartbeats, raw messages)."""
    template = _TEMPLATES.get(event)
    if template is None:
        return None
    values = _Blank(metadata or {})
    values["content"] = content if isinstance(content, str) else ""
    if event == AgentEvents.TOOL_RESULT and lang == "zh":
        values["status"] = _STATUS_ZH.get(str(values.get("status")), values.get("status", ""))
    text = template[0 if lang == "zh" else 1].format_map(values)
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"

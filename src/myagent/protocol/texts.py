"""Every human-readable text the server puts in a frame, in Chinese and English. No I/O.

``content`` texts are looked up with :func:`text`; the ``show_content`` templates are
:data:`SHOW_TEMPLATES`, rendered by :mod:`myagent.protocol.show_content`.
"""

from __future__ import annotations

from typing import Any

from myagent.protocol.names import (
    AgentEvents,
    AggregateEvents,
    PipelineEvents,
    PlanEvents,
    SolverEvents,
    SystemEvents,
)
from myagent.protocol.rules import ToolStatuses

__all__ = ["LANGUAGES", "SHOW_TEMPLATES", "TOOL_STATUS_ZH", "text"]

LANGUAGES = ("zh", "en")

_TEXTS: dict[str, tuple[str, str]] = {
    # key: (zh, en)
    "session_created": ("会话创建成功", "Session created"),
    "session_end": ("会话已结束", "Session ended"),
    "session_resumed": ("会话已恢复", "Session resumed"),
    "session_restored": ("会话已恢复", "Session restored"),
    "session_taken_over": ("会话已在另一个连接上恢复", "The session was resumed on another connection"),
    "state_exported": ("会话状态已导出", "Session state exported"),
    "confirmation_withdrawn": ("确认请求已撤回", "Confirmation request withdrawn"),
    "run_lost": (
        "运行它的节点已停止，此运行无法继续；会话可以继续使用",
        "The node running this run stopped and the run cannot go on; the session is usable again",
    ),
    "run_resumed": (
        "运行它的节点已停止，另一节点从第 {step} 步继续",
        "The node running this session stopped; another node goes on from step {step}",
    ),
    "confirm_tool": ("确认执行工具: {name}", "Confirm running tool: {name}"),
    "confirm_plan": ("请确认计划后开始执行", "Confirm the plan before solving"),
    "first_step": ("正在处理您的请求...", "Working on your request..."),
    "next_step": ("正在根据工具结果继续思考（第 {step} 步）...", "Thinking about the tool results (step {step})..."),
    "tool_call": ("调用工具: {name}", "Calling tool: {name}"),
    "interrupted": ("已中断当前任务", "The run was interrupted"),
    "failed": ("运行出错：{error}", "The run failed: {error}"),
    "tasks_completed": (
        "任务已完成：成功 {completed}，失败 {failed}，取消 {cancelled}",
        "Tasks finished: {completed} completed, {failed} failed, {cancelled} cancelled",
    ),
    "control_ok": ("{action}: 已处理", "{action}: done"),
    "control_refused": ("{action}: 当前阶段无法执行该操作", "{action}: not possible in the current phase"),
}


def text(key: str, language: str, **values: Any) -> str:
    """The ``key`` text in ``language`` (``zh`` or ``en``), formatted with ``values``."""
    zh, en = _TEXTS[key]
    template = zh if language == "zh" else en
    return template.format(**values) if values else template


#: ``show_content`` of each downstream event: (zh, en) templates; fields come from metadata,
#: ``{content}`` from the event's content (rendered by :mod:`myagent.protocol.show_content`).
SHOW_TEMPLATES: dict[str, tuple[str, str]] = {
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
    PipelineEvents.TASKS_COMPLETED: ("任务全部结束", "Tasks finished"),
    AgentEvents.CONFIRMATION_WITHDRAWN: ("确认请求已撤回", "Confirmation withdrawn"),
    AgentEvents.RUN_RESUMED: ("运行已在另一节点继续", "Run resumed on another node"),
}

TOOL_STATUS_ZH = {
    ToolStatuses.SUCCESS: "完成",
    ToolStatuses.FAILED: "失败",
    ToolStatuses.REFUSED: "未执行（已拒绝）",
    ToolStatuses.EXPIRED: "未执行（确认已过期）",
    ToolStatuses.CANCELLED: "已取消",
}

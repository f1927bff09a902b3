"""Every human-readable text the server puts in a frame's ``content``, in Chinese and English. No I/O.

``show_content`` (the display string) is rendered separately by :mod:`myagent.protocol.show_content`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LANGUAGES", "text"]

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

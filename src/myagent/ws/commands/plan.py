"""Plan & Solve controls: ``user.solve_tasks``, ``cancel_task``, ``restart_task``, ``cancel_plan``, ``replan``.

Each control is acknowledged with ``system.notice`` ``{action, ok, task_id?}``; ``ok`` is false when
the control does not apply in the current phase.
"""

from __future__ import annotations

from myagent.protocol.inbound import InboundFrame
from myagent.protocol.rules import NoticeActions
from myagent.ws.commands.context import CommandContext

__all__ = ["cancel_plan", "cancel_task", "replan", "restart_task", "solve_tasks"]


async def _control(ctx: CommandContext, frame: InboundFrame, action: str, **args: object) -> None:
    session_id = await ctx.resolve(frame)
    result = await ctx.service.command(session_id, action, **args)
    ctx.acknowledge(session_id, action, result.ok, **result.data)


async def solve_tasks(ctx: CommandContext, frame: InboundFrame) -> None:
    await _control(
        ctx,
        frame,
        NoticeActions.SOLVE_TASKS,
        tasks=frame.get("tasks"),
        question=frame.get("question"),
        plan_summary=frame.get("plan_summary"),
    )


async def cancel_task(ctx: CommandContext, frame: InboundFrame) -> None:
    await _control(ctx, frame, NoticeActions.CANCEL_TASK, task_id=frame.get("task_id"))


async def restart_task(ctx: CommandContext, frame: InboundFrame) -> None:
    await _control(ctx, frame, NoticeActions.RESTART_TASK, task_id=frame.get("task_id"))


async def cancel_plan(ctx: CommandContext, frame: InboundFrame) -> None:
    await _control(ctx, frame, NoticeActions.CANCEL_PLAN)


async def replan(ctx: CommandContext, frame: InboundFrame) -> None:
    await _control(ctx, frame, NoticeActions.REPLAN, question=frame.get("question"))

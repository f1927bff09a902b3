"""What the server does with each client event, grouped by concern (core, state, plan)."""

from __future__ import annotations

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.names import UserEvents
from myagent.ws.commands import core, plan, state
from myagent.ws.commands.context import CommandContext, Handler, Peer

__all__ = ["HANDLERS", "CommandContext", "Peer", "dispatch"]

HANDLERS: dict[str, Handler] = {
    UserEvents.CREATE_SESSION: core.create_session,
    UserEvents.MESSAGE: core.message,
    UserEvents.RESPONSE: core.response,
    UserEvents.CANCEL: core.cancel,
    UserEvents.ACK: core.ack,
    UserEvents.RECONNECT: core.reconnect,
    UserEvents.CLOSE_SESSION: core.close_session,
    UserEvents.REQUEST_STATE: state.request_state,
    UserEvents.RECONNECT_WITH_STATE: state.reconnect_with_state,
    UserEvents.SOLVE_TASKS: plan.solve_tasks,
    UserEvents.CANCEL_TASK: plan.cancel_task,
    UserEvents.RESTART_TASK: plan.restart_task,
    UserEvents.CANCEL_PLAN: plan.cancel_plan,
    UserEvents.REPLAN: plan.replan,
}


async def dispatch(ctx: CommandContext, frame: InboundFrame) -> None:
    """Route a validated frame; a known event this server cannot serve gets ``NOT_SUPPORTED``."""
    handler = HANDLERS.get(frame.event)
    if handler is None:
        raise ProtocolError(ErrorCodes.NOT_SUPPORTED, f"{frame.event} is not supported by this server")
    await handler(ctx, frame)

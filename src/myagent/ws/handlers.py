"""What the server does with each client event."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.names import AgentEvents, UserEvents
from myagent.telemetry import continue_trace
from myagent.ws.connection import Connection
from myagent.ws.event_log import parse_event_id
from myagent.ws.plan_handlers import cancel_plan, cancel_task, replan, restart_task, solve_tasks
from myagent.ws.session import Session
from myagent.ws.state_handlers import reconnect_with_state, request_state

__all__ = ["HANDLERS", "dispatch"]

logger = logging.getLogger(__name__)

Handler = Callable[[Connection, InboundFrame], Awaitable[None]]


async def dispatch(connection: Connection, frame: InboundFrame) -> None:
    """Route a validated frame; a known event this server cannot serve yet gets ``NOT_SUPPORTED``."""
    handler = HANDLERS.get(frame.event)
    if handler is None:
        raise ProtocolError(ErrorCodes.NOT_SUPPORTED, f"{frame.event} is not supported by this server")
    await handler(connection, frame)


async def create_session(connection: Connection, frame: InboundFrame) -> None:
    hub = connection.hub
    session = await connection.new_session()
    agent = session.agent
    hub.add_session(session)
    connection.attach(session, 0)
    text = "会话创建成功" if hub.options.language == "zh" else "Session created"
    session.emit(
        AgentEvents.SESSION_CREATED,
        text,
        metadata={
            "resume_token": session.resume_token,
            "agent_name": agent.name,
            "agent_description": agent.description,
            "grace_period": hub.options.grace_period,
        },
    )
    logger.info("connection %s: created session %s (agent %s)", connection.id, session.id, agent.name)


async def message(connection: Connection, frame: InboundFrame) -> None:
    session = connection.resolve(frame)
    if session.busy:
        raise ProtocolError(ErrorCodes.SESSION_BUSY, "a run is already active in this session; wait or cancel it")
    if connection.hub.shutting_down:
        raise ProtocolError(ErrorCodes.SERVER_SHUTTING_DOWN, "the server is shutting down")
    with continue_trace(frame.values):  # a W3C traceparent in the frame's metadata (tracing on)
        connection.hub.start_run(session, frame.text)


async def response(connection: Connection, frame: InboundFrame) -> None:
    session = connection.resolve(frame)
    step_id = str(frame.get("step_id"))
    error = session.confirmations.answer(
        step_id, bool(frame.get("confirmed")), frame.get("message"), frame.get("tasks")
    )
    if error == ErrorCodes.STEP_NOT_FOUND:
        raise ProtocolError(error, f"no pending confirmation {step_id!r}").with_field("step_id")
    if error is not None:
        raise ProtocolError(error, f"confirmation {step_id!r} was already answered or expired").with_field("step_id")


async def cancel(connection: Connection, frame: InboundFrame) -> None:
    session = connection.resolve(frame)
    if not session.cancel_run("user_cancel"):
        raise ProtocolError(ErrorCodes.NO_ACTIVE_RUN, "nothing to cancel: the session is idle")


async def ack(connection: Connection, frame: InboundFrame) -> None:
    session_id, seq = _position(frame)
    if seq is None:
        raise ProtocolError(ErrorCodes.MISSING_FIELD, "user.ack requires `last_event_id` or `last_seq`").with_field(
            "last_event_id"
        )
    if seq == 0 and session_id is None:
        return  # "nothing received yet" acknowledges nothing (the guide's ACK timer may start early)
    session = connection.resolve(frame if session_id is None else replace(frame, session_id=session_id))
    _check_sent(session, seq)
    session.log.ack(seq)


async def reconnect(connection: Connection, frame: InboundFrame) -> None:
    hub = connection.hub
    if frame.session_id is None:
        raise ProtocolError(ErrorCodes.MISSING_FIELD, "user.reconnect requires `session_id`").with_field("session_id")
    session = hub.find(frame.session_id)
    if session is None or session.closed:
        raise ProtocolError(ErrorCodes.SESSION_NOT_FOUND, f"no live session {frame.session_id!r}; it may have expired")
    if not hmac.compare_digest(str(frame.get("resume_token")), session.resume_token):
        raise ProtocolError(ErrorCodes.INVALID_RESUME_TOKEN, "the resume token does not match this session")
    _, after = _position(frame)
    if after is not None:
        _check_sent(session, after)
    previous = session.sink
    if isinstance(previous, Connection) and previous is not connection:
        previous.sessions.pop(session.id, None)
        previous.notice("session_taken_over", True, "会话已在另一个连接上恢复", session_id=session.id)
    if previous is not None:
        session.detach(previous)
    connection.attach(session, after, replay=True)
    logger.info("connection %s: resumed session %s after seq %s", connection.id, session.id, after)


async def close_session(connection: Connection, frame: InboundFrame) -> None:
    session = connection.resolve(frame)
    await connection.hub.close_session(session, "closed")
    connection.sessions.pop(session.id, None)


def _position(frame: InboundFrame) -> tuple[str | None, int | None]:
    """``(session id, seq)`` named by ``last_event_id`` (preferred) or ``(None, last_seq)``."""
    event_id = frame.get("last_event_id")
    if event_id is not None:
        parsed = parse_event_id(str(event_id))
        if parsed is None:
            raise ProtocolError(ErrorCodes.INVALID_FIELD, f"{event_id!r} is not an event id of this server").with_field(
                "last_event_id"
            )
        if frame.session_id is not None and parsed[0] != frame.session_id:
            raise ProtocolError(ErrorCodes.INVALID_FIELD, "last_event_id belongs to another session").with_field(
                "last_event_id"
            )
        return parsed
    last_seq = frame.get("last_seq")
    if last_seq is not None and last_seq < 0:
        raise ProtocolError(ErrorCodes.INVALID_FIELD, "last_seq must not be negative").with_field("last_seq")
    return None, last_seq


def _check_sent(session: Session, seq: int) -> None:
    if seq > session.log.last_seq:
        raise ProtocolError(
            ErrorCodes.ACK_OUT_OF_RANGE,
            f"seq {seq} was never sent in session {session.id} (last is {session.log.last_seq})",
        )


HANDLERS: dict[str, Handler] = {
    UserEvents.SOLVE_TASKS: solve_tasks,
    UserEvents.CANCEL_TASK: cancel_task,
    UserEvents.RESTART_TASK: restart_task,
    UserEvents.CANCEL_PLAN: cancel_plan,
    UserEvents.REPLAN: replan,
    UserEvents.REQUEST_STATE: request_state,
    UserEvents.RECONNECT_WITH_STATE: reconnect_with_state,
    UserEvents.CREATE_SESSION: create_session,
    UserEvents.MESSAGE: message,
    UserEvents.RESPONSE: response,
    UserEvents.CANCEL: cancel,
    UserEvents.ACK: ack,
    UserEvents.RECONNECT: reconnect,
    UserEvents.CLOSE_SESSION: close_session,
}

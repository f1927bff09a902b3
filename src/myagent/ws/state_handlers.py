"""``user.request_state`` and ``user.reconnect_with_state``: client-held signed session state."""

from __future__ import annotations

import logging

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.names import AgentEvents
from myagent.ws.connection import Connection
from myagent.ws.event_log import parse_event_id
from myagent.ws.session import Session
from myagent.ws.state_manager import canonical_json

__all__ = ["reconnect_with_state", "request_state"]

logger = logging.getLogger(__name__)


async def request_state(connection: Connection, frame: InboundFrame) -> None:
    session = connection.resolve(frame)
    manager = connection.hub.state
    snapshot = manager.create_state_snapshot(session)
    signed = manager.sign_state(snapshot)
    text = "会话状态已导出" if connection.hub.options.language == "zh" else "Session state exported"
    session.emit(
        AgentEvents.STATE_EXPORTED,
        text,
        metadata={
            "signed_state": signed,
            "state_size": len(canonical_json(signed)),
            # Counted in the snapshot (trimmed, encrypted or not), the same count a restore reports.
            "message_count": len(snapshot["messages"]),
            "current_step": snapshot["current_step"],
            "encrypted": bool(signed.get("encrypted")),
        },
    )


async def reconnect_with_state(connection: Connection, frame: InboundFrame) -> None:
    hub = connection.hub
    ok, state, error = hub.state.verify_state(frame.get("signed_state"))
    if not ok or state is None:
        assert error is not None
        raise ProtocolError(error.code, f"state refused: {error.message}")
    original_id = str(state["session_id"])
    live = hub.find(original_id)
    if live is not None and not live.closed:
        await _reattach(connection, frame, live)
        return
    session = await connection.new_session()
    agent = session.agent
    result = hub.state.restore_session_from_state(session, state)
    hub.add_session(session)
    connection.attach(session, 0)
    session.emit(
        AgentEvents.STATE_RESTORED,
        "会话已恢复" if hub.options.language == "zh" else "Session restored",
        metadata={
            "original_session_id": original_id,
            "restored_step": result.restored_step,
            "message_count": result.message_count,
            "warnings": result.warnings,
            "resume_token": session.resume_token,
            "agent_name": agent.name,
            "pending_calls": len(result.pending_calls),
            "reattached": False,
        },
    )
    logger.info("connection %s: restored session %s into %s", connection.id, original_id, session.id)
    if result.pending_calls:
        hub.start_run(session, agent.resume(confirm=session.confirm))


async def _reattach(connection: Connection, frame: InboundFrame, session: Session) -> None:
    """The original session still lives here: take it back with replay, unless another connection holds it."""
    hub = connection.hub
    if session.sink is not None and session.sink is not connection:
        raise ProtocolError(ErrorCodes.SESSION_ACTIVE_ELSEWHERE, "the session is active on another connection")
    if session.sink is None:
        connection.attach(session, _position_in(session, frame), replay=True)
    session.emit(
        AgentEvents.STATE_RESTORED,
        "会话已恢复" if hub.options.language == "zh" else "Session restored",
        metadata={
            "original_session_id": session.id,
            "restored_step": session.agent.current_step,
            "message_count": len(session.agent.memory),
            "warnings": [],
            "resume_token": session.resume_token,
            "agent_name": session.agent.name,
            "reattached": True,
        },
    )


def _position_in(session: Session, frame: InboundFrame) -> int | None:
    """The client's position if it names this session; a position from another session is ignored."""
    event_id = frame.get("last_event_id")
    if isinstance(event_id, str):
        parsed = parse_event_id(event_id)
        if parsed is not None and parsed[0] == session.id and parsed[1] <= session.log.last_seq:
            return parsed[1]
        return None
    last_seq = frame.get("last_seq")
    if isinstance(last_seq, int) and 0 <= last_seq <= session.log.last_seq and frame.session_id == session.id:
        return last_seq
    return None

"""Core commands: create, message, response, cancel, ack, reconnect, close."""

from __future__ import annotations

import logging
from dataclasses import replace

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.rules import parse_event_id, parse_seq
from myagent.telemetry.context import trace_carrier
from myagent.ws.commands.context import CommandContext

__all__ = ["ack", "cancel", "close_session", "create_session", "message", "reconnect", "response"]

logger = logging.getLogger(__name__)


async def create_session(ctx: CommandContext, frame: InboundFrame) -> None:
    if len(ctx.attached) >= ctx.service.options.max_sessions_per_connection:
        raise ProtocolError(ErrorCodes.SESSION_LIMIT, "session limit reached; close a session first")
    attachment = await ctx.service.create(
        connection_id=ctx.connection_id,
        deliver=ctx.peer.deliver,
        on_lost=ctx.peer.session_lost,
        owner=ctx.owner,
        quota_key=ctx.quota_key,
        principal=ctx.principal,
    )
    ctx.attached[attachment.session_id] = attachment


async def message(ctx: CommandContext, frame: InboundFrame) -> None:
    session_id = await ctx.resolve(frame)
    await ctx.service.command(session_id, "message", text=frame.text, trace=trace_carrier(frame.values))


async def response(ctx: CommandContext, frame: InboundFrame) -> None:
    session_id = await ctx.resolve(frame)
    result = await ctx.service.on_owner(
        session_id,
        "answer",
        step_id=str(frame.get("step_id")),
        confirmed=bool(frame.get("confirmed")),
        message=frame.get("message"),
        tasks=frame.get("tasks"),
    )
    if not result.ok and result.code is not None:
        error = ProtocolError(result.code, result.message)
        raise error.with_field("step_id") if result.code != ErrorCodes.SESSION_NOT_FOUND else error


async def cancel(ctx: CommandContext, frame: InboundFrame) -> None:
    session_id = await ctx.resolve(frame)
    await ctx.service.command(session_id, "cancel", reason="user_cancel")


async def ack(ctx: CommandContext, frame: InboundFrame) -> None:
    named, seq = position(frame)
    if seq is None:
        raise ProtocolError(ErrorCodes.MISSING_FIELD, "user.ack requires `last_event_id` or `last_seq`").with_field(
            "last_event_id"
        )
    if seq == 0 and named is None:
        return  # "nothing received yet" acknowledges nothing (the guide's ACK timer may start early)
    session_id = await ctx.resolve(frame if named is None else replace(frame, session_id=named))
    await ctx.service.ack(session_id, seq)


async def reconnect(ctx: CommandContext, frame: InboundFrame) -> None:
    if frame.session_id is None:
        raise ProtocolError(ErrorCodes.MISSING_FIELD, "user.reconnect requires `session_id`").with_field("session_id")
    _, after = position(frame)
    ctx.check_attempts()
    try:
        attachment = await ctx.service.resume(
            frame.session_id,
            str(frame.get("resume_token")),
            after,
            connection_id=ctx.connection_id,
            deliver=ctx.peer.deliver,
            on_lost=ctx.peer.session_lost,
            owner=ctx.owner,
        )
    except ProtocolError as exc:
        ctx.note_failure(exc)
        raise
    ctx.attached[attachment.session_id] = attachment
    await ctx.announce_replay(attachment)
    logger.info("connection %s: resumed session %s after seq %s", ctx.connection_id, attachment.session_id, after)


async def close_session(ctx: CommandContext, frame: InboundFrame) -> None:
    session_id = await ctx.resolve(frame)
    await ctx.service.close(session_id, "closed")
    ctx.attached.pop(session_id, None)


def position(frame: InboundFrame) -> tuple[str | None, int | None]:
    """``(session id, seq)`` named by ``last_event_id`` (preferred) or ``(None, last_seq)``.

    ``last_event_id`` is ``"<session_id>:<seq>"`` or a bare seq; ``last_seq`` a number or a numeric
    string (:func:`~myagent.protocol.rules.parse_seq`).

    Raises:
        ProtocolError: ``INVALID_FIELD`` for a value that is not a position this server issued.
    """
    event_id = frame.get("last_event_id")
    if event_id is not None:
        parsed = parse_event_id(str(event_id))
        named, seq = parsed if parsed is not None else (None, parse_seq(event_id))
        if seq is None:
            raise ProtocolError(ErrorCodes.INVALID_FIELD, f"{event_id!r} is not an event id of this server").with_field(
                "last_event_id"
            )
        if named is not None and frame.session_id is not None and named != frame.session_id:
            raise ProtocolError(ErrorCodes.INVALID_FIELD, "last_event_id belongs to another session").with_field(
                "last_event_id"
            )
        return named, seq
    last_seq = frame.get("last_seq")
    if last_seq is None:
        return None, None
    seq = parse_seq(last_seq)
    if seq is None:
        raise ProtocolError(ErrorCodes.INVALID_FIELD, "last_seq must be a non-negative whole number").with_field(
            "last_seq"
        )
    return None, seq

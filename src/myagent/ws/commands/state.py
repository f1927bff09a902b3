"""State commands: ``user.request_state`` and ``user.reconnect_with_state`` (client-held signed state)."""

from __future__ import annotations

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.rules import parse_event_id
from myagent.ws.commands.context import CommandContext

__all__ = ["reconnect_with_state", "request_state"]


async def request_state(ctx: CommandContext, frame: InboundFrame) -> None:
    session_id = await ctx.resolve(frame)
    await ctx.service.command(session_id, "request_state", principal=ctx.owner)


async def reconnect_with_state(ctx: CommandContext, frame: InboundFrame) -> None:
    ctx.check_attempts()
    ok, state, error = ctx.service.state.verify_state(frame.get("signed_state"), principal=ctx.owner)
    if not ok or state is None:
        assert error is not None
        refused = ProtocolError(error.code, f"state refused: {error.message}")
        ctx.note_failure(refused)
        raise refused
    limit = ctx.service.options.max_sessions_per_connection
    if str(state["session_id"]) not in ctx.attached and len(ctx.attached) >= limit:
        raise ProtocolError(ErrorCodes.SESSION_LIMIT, "session limit reached; close a session first")

    def position_in(session_id: str, last_seq: int) -> int | None:
        """The client's position if it names this session; a position from another session is ignored."""
        event_id = frame.get("last_event_id")
        if isinstance(event_id, str):
            parsed = parse_event_id(event_id)
            if parsed is not None and parsed[0] == session_id and parsed[1] <= last_seq:
                return parsed[1]
            return None
        wanted = frame.get("last_seq")
        if isinstance(wanted, int) and 0 <= wanted <= last_seq and frame.session_id == session_id:
            return wanted
        return None

    restored = await ctx.service.restore(
        state,
        position_in,
        connection_id=ctx.connection_id,
        deliver=ctx.peer.deliver,
        on_lost=ctx.peer.session_lost,
        owner=ctx.owner,
        quota_key=ctx.quota_key,
    )
    if restored is None:
        return
    attachment, reattached = restored
    ctx.attached[attachment.session_id] = attachment
    if reattached:
        await ctx.announce_replay(attachment)

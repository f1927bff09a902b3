"""State commands: ``user.request_state`` and ``user.reconnect_with_state`` (client-held signed state)."""

from __future__ import annotations

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.ws.commands.context import CommandContext
from myagent.ws.commands.core import position

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

    try:
        named, wanted = position(frame)
    except ProtocolError:
        named, wanted = None, None  # a position that is not ours: replay everything retained

    def position_in(session_id: str, last_seq: int) -> int | None:
        """The client's position if it is in this session; a position from another session is ignored."""
        if wanted is None or (named or frame.session_id or session_id) != session_id:
            return None
        return wanted if wanted <= last_seq else None

    restored = await ctx.service.restore(
        state,
        position_in,
        connection_id=ctx.connection_id,
        deliver=ctx.peer.deliver,
        on_lost=ctx.peer.session_lost,
        owner=ctx.owner,
        quota_key=ctx.quota_key,
        principal=ctx.principal,
    )
    if restored is None:
        return
    attachment, reattached = restored
    ctx.attached[attachment.session_id] = attachment
    if reattached:
        await ctx.announce_replay(attachment)

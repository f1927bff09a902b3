"""Server options with their documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from myagent.auth.connection_auth import DEFAULT_AUTH_TIMEOUT
from myagent.ws.limits import LimitDefaults

__all__ = ["ServerOptions"]


@dataclass(frozen=True)
class ServerOptions:
    """Tunable behaviour of :class:`~myagent.ws.server.AgentWebSocketServer` (all keyword arguments).

    Attributes:
        grace_period: seconds a session outlives its connection (its run goes on, events are kept).
        heartbeat_interval: seconds between ``system.heartbeat`` frames (0 disables them).
        ping_interval: seconds between WebSocket pings; a peer that misses ``ping_timeout`` is dropped.
        ping_timeout: seconds to wait for a pong.
        confirm_timeout: seconds a confirmation request stays open; expiry counts as a refusal.
        max_message_bytes: largest accepted client frame (the transport's limit too: a larger frame
            closes the connection with 1009).
        max_sessions_per_connection: sessions one connection may own at once.
        max_sessions: sessions the server holds at once.
        retention_events: events retained per session for replay (unacknowledged ones included).
        retention_bytes: serialised bytes retained per session for replay.
        lease_ttl: seconds a process's run lease on a session lasts unless renewed (renewed every third).
        sweep_interval: most seconds between two looks for sessions whose grace period is over.
        outbound_queue_frames: frames queued for one connection before it counts as a slow consumer.
        outbound_buffer_bytes: bytes queued for one connection before it counts as a slow consumer
            (closed with 4008; its sessions stay resumable).
        allowed_origins: ``Origin`` patterns admitted at the handshake (``None``: the server's own
            origin, ``http(s)://localhost:*``, ``http(s)://127.0.0.1:*``, ``[::1]`` and ``null``;
            ``("*",)`` turns the check off).
        auth_timeout: seconds a connection admitted without credentials has to send ``user.authenticate``
            (authentication on only).
        frames_per_second: client frames one connection may send per second on average; beyond the
            burst, frames get ``RATE_LIMITED``.
        frame_burst: client frames one connection may send at once.
        max_connections_per_client: open connections per principal (per client address while
            authentication is off); more are refused with HTTP 429.
        max_sessions_per_client: live sessions per principal (per client address while
            authentication is off), detached ones included; more get ``SESSION_LIMIT``.
        failed_attempts_free: failed resume or restore attempts a client address may make per
            ``failed_attempts_window`` before it must wait (1 s, doubling up to 300 s).
        failed_attempts_window: seconds over which failed attempts are counted.
        send_llm_messages: also emit ``agent.llm_message`` for every message added to memory.
        language: language of ``show_content`` and status texts: ``zh`` (default) or ``en``.
        state_max_age: seconds a signed state stays valid.
        state_previous_keys: older secret keys still accepted when verifying a signed state.
        state_encrypt: encrypt signed states so clients cannot read the conversation.
        state_max_bytes: largest snapshot (canonical JSON) exported; oldest turns are trimmed first.
        state_max_messages: most messages exported in a state.
    """

    grace_period: float = 600.0
    heartbeat_interval: float = 30.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    confirm_timeout: float = 300.0
    max_message_bytes: int = 1 << 20
    max_sessions_per_connection: int = 100
    max_sessions: int = 10_000
    retention_events: int = 1000
    retention_bytes: int = 1 << 20
    outbound_queue_frames: int = 2000
    send_llm_messages: bool = False
    language: Literal["zh", "en"] = "zh"
    state_max_age: float = 7 * 24 * 3600.0
    state_previous_keys: tuple[str, ...] = ()
    state_encrypt: bool = False
    state_max_bytes: int = 100_000
    state_max_messages: int = 100
    # The limits' defaults are defined once, in myagent.ws.limits.LimitDefaults.
    outbound_buffer_bytes: int = LimitDefaults.outbound_buffer_bytes
    allowed_origins: tuple[str, ...] | None = None
    auth_timeout: float = DEFAULT_AUTH_TIMEOUT
    frames_per_second: float = LimitDefaults.frames_per_second
    frame_burst: int = LimitDefaults.frame_burst
    max_connections_per_client: int = LimitDefaults.max_connections_per_principal
    max_sessions_per_client: int = LimitDefaults.max_sessions_per_principal
    failed_attempts_free: int = LimitDefaults.free_failures
    failed_attempts_window: float = LimitDefaults.failure_window
    lease_ttl: float = 30.0
    sweep_interval: float = 1.0

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> ServerOptions:
        """Build options, rejecting unknown names.

        Raises:
            TypeError: an option this server does not have.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**options)

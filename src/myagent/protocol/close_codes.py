"""The one table of WebSocket close codes the server uses, and of HTTP refusals before the upgrade.

Codes below 4000 are the standard ones (RFC 6455 §7.4.1) with the meaning this server gives
them; 4000–4999 are private to this protocol and mirror the HTTP status they stand for
(``4401`` ↔ 401, ``4403`` ↔ 403, ``4429`` ↔ 429; ``4008`` ↔ 408 "too slow"). Where a refusal
can happen before the upgrade (Origin, authentication from headers, connection limits) the
server answers with the HTTP status instead and no WebSocket exists.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLOSE_CODES", "HANDSHAKE_REFUSALS", "CloseCode", "CloseCodes"]


@dataclass(frozen=True)
class CloseCode:
    """One close code: its number, the reason string sent with it, and when it is used.

    Attributes:
        resumable: whether the client may resume its sessions (``user.reconnect``) afterwards.
    """

    code: int
    reason: str
    description: str
    resumable: bool = True


class CloseCodes:
    """Names of the codes; :data:`CLOSE_CODES` describes each."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SLOW_CONSUMER = 4008
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    TOO_MANY_CONNECTIONS = 4429


_TABLE = [
    CloseCode(CloseCodes.NORMAL, "normal", "normal close (the client or the server ended the connection)"),
    CloseCode(
        CloseCodes.GOING_AWAY,
        "server shutting down",
        "the server is shutting down (runs were cancelled; sessions end)",
        resumable=False,
    ),
    CloseCode(
        CloseCodes.PROTOCOL_ERROR,
        "protocol error",
        "the peer broke the WebSocket framing rules (e.g. an unmasked client frame); sent by the transport",
    ),
    CloseCode(
        CloseCodes.INVALID_PAYLOAD,
        "invalid UTF-8",
        "a text frame was not valid UTF-8 (a JSON `\\ud800` escape is valid UTF-8 and gets `INVALID_FIELD` instead)",
    ),
    CloseCode(
        CloseCodes.POLICY_VIOLATION,
        "policy violation",
        "the connection broke a server policy that has no more specific code; refusals before the upgrade "
        "are HTTP statuses instead (see below)",
    ),
    CloseCode(
        CloseCodes.MESSAGE_TOO_BIG,
        "frame too large",
        "a frame larger than the transport's frame limit (smaller frames over `max_message_bytes` get "
        "`MESSAGE_TOO_LARGE` and the connection stays open)",
    ),
    CloseCode(
        CloseCodes.INTERNAL_ERROR,
        "internal error",
        "the peer missed WebSocket pings, or the connection failed inside the server (logged once); "
        "reconnect and resume",
    ),
    CloseCode(
        CloseCodes.SLOW_CONSUMER,
        "slow consumer",
        "the client stopped reading and its outbound buffer is full; resume from a new connection",
    ),
    CloseCode(
        CloseCodes.UNAUTHENTICATED,
        "unauthenticated",
        "authentication is required and no valid credentials came in time, or the token expired and was "
        "not refreshed with `user.authenticate`; authenticate again, then resume",
    ),
    CloseCode(
        CloseCodes.FORBIDDEN,
        "forbidden",
        "the credentials are valid but this principal may not use the server",
        resumable=False,
    ),
    CloseCode(
        CloseCodes.TOO_MANY_CONNECTIONS,
        "too many connections",
        "the principal (or, without authentication, the client address) has reached its connection limit; "
        "close another connection first",
    ),
]

CLOSE_CODES: dict[int, CloseCode] = {entry.code: entry for entry in _TABLE}

HANDSHAKE_REFUSALS: dict[int, str] = {
    400: "the request is not a valid WebSocket upgrade",
    401: "authentication is required and the handshake carried no valid credentials",
    403: "the `Origin` is not allowed, or the principal may not use the server",
    429: "too many connections, or too many failed attempts, from this principal or client address",
}
"""HTTP statuses of a handshake refused before the upgrade (no WebSocket is opened)."""

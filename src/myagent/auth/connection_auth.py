"""The authentication state of one connection, as a state machine without I/O.

The connection adapter owns one :class:`ConnectionAuth` and asks it three things:

* for every decoded frame, :meth:`ConnectionAuth.admits` — ``False`` while authentication is
  pending and the frame is not ``user.authenticate``: close with ``4401``;
* for ``user.authenticate``, :meth:`ConnectionAuth.authenticate` — the principal (answer with a
  ``system.notice``), or an ``AuthError`` whose ``close_code`` ends the connection;
* for its timer, :meth:`ConnectionAuth.deadline` — when to look again — and then
  :meth:`ConnectionAuth.overdue` — the ``AuthError`` to close with (the first frame never came,
  or the token expired without a refresh), or ``None`` when a refresh moved the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from myagent.auth.authenticator import Authenticator, authenticate_frame
from myagent.auth.errors import AuthError
from myagent.auth.handshake import Handshake
from myagent.auth.principal import Principal
from myagent.protocol.names import UserEvents

__all__ = ["DEFAULT_AUTH_TIMEOUT", "AuthState", "ConnectionAuth"]

DEFAULT_AUTH_TIMEOUT = 10.0
"""Seconds a connection admitted without credentials has to send ``user.authenticate``."""

AuthState = Literal["off", "pending", "authenticated"]


class ConnectionAuth:
    """Who a connection is, and until when.

    Args:
        authenticator: ``None`` when authentication is off (every frame admitted, no deadline).
        handshake: the request that opened the connection.
        principal: the principal the handshake proved, if it proved one.
        auth_timeout: seconds to wait for ``user.authenticate`` when the handshake proved nothing.
        clock: seconds since the epoch (principals' expiry times are epoch seconds).
    """

    def __init__(
        self,
        authenticator: Authenticator | None,
        handshake: Handshake,
        *,
        principal: Principal | None = None,
        auth_timeout: float = DEFAULT_AUTH_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authenticator = authenticator
        self.handshake = handshake
        self.principal = principal
        self._clock = clock
        self._first_frame_due = None if principal or authenticator is None else clock() + auth_timeout

    @property
    def state(self) -> AuthState:
        if self.authenticator is None:
            return "off"
        return "authenticated" if self.principal is not None else "pending"

    def admits(self, event: str) -> bool:
        """Whether a frame with this event may be handled now."""
        return self.state != "pending" or event == UserEvents.AUTHENTICATE

    async def authenticate(self, content: Any) -> Principal:
        """Handle ``user.authenticate``: the first credentials, or a refresh for the same principal.

        Raises:
            AuthError: close the connection with ``error.close_code``; also when authentication is off
                there is nothing to authenticate against (the caller answers ``NOT_SUPPORTED`` first).
        """
        if self.authenticator is None:
            raise AuthError("this server does not use authentication")
        principal = await authenticate_frame(self.authenticator, self.handshake, content, current=self.principal)
        self.principal = principal
        self._first_frame_due = None
        return principal

    def deadline(self) -> float | None:
        """Epoch seconds when :meth:`overdue` must be asked, or ``None`` when nothing is due."""
        if self._first_frame_due is not None:
            return self._first_frame_due
        return self.principal.expires_at if self.principal is not None else None

    def overdue(self) -> AuthError | None:
        """The reason to close now (``close_code`` 4401), or ``None`` when the connection may go on."""
        now = self._clock()
        if self._first_frame_due is not None and now >= self._first_frame_due:
            return AuthError("no user.authenticate arrived in time")
        if self.principal is not None and self.principal.is_expired(now):
            return AuthError("the credentials expired and were not refreshed")
        return None

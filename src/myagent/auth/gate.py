"""ASGI middleware that decides a WebSocket handshake before the application sees it.

``HandshakeGate(app, ...)`` wraps any ASGI app (the myagent Starlette app included). For each
WebSocket handshake, in this order:

1. **Origin**: not on the allowlist → HTTP 403.
2. **Authentication** (when an authenticator is given): see
   :func:`~myagent.auth.authenticator.authenticate_handshake`. Refused → HTTP 401/403. No
   credentials in the handshake → the connection proceeds with ``awaiting_first_frame`` set,
   and the application must require ``user.authenticate``.
3. **Connections per principal** (per client address while unauthenticated): over the limit →
   HTTP 429. The place is freed when the application returns.

What it learnt is put into the scope under :data:`SCOPE_KEY` as a :class:`GateResult`. HTTP
requests pass through untouched. Refusals use the ASGI "WebSocket Denial Response" extension
(uvicorn has it); without it a close before the upgrade is sent, which servers turn into 403.

uvicorn's ``websockets-sansio`` protocol (0.54) logs "ASGI callable returned without completing
handshake." at ERROR after every denial response (a known uvicorn bug, fix proposed upstream in
uvicorn PR 3138). Unfiltered, every refused handshake would be an ERROR line, and a hostile
client could flood the log. :class:`DenialLogFilter` drops exactly that line, and only for
handshakes this gate refused; the gate installs it on ``uvicorn.error`` unless told not to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from myagent.auth.authenticator import Authenticated, Authenticator, AwaitFirstFrame, authenticate_handshake
from myagent.auth.handshake import Handshake
from myagent.auth.origin import OriginPolicy
from myagent.auth.principal import Principal, anonymous_principal
from myagent.protocol.close_codes import HANDSHAKE_REFUSALS, CloseCodes
from myagent.ws.limits import KeyedCounter

__all__ = ["SCOPE_KEY", "DenialLogFilter", "GateResult", "HandshakeGate"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "myagent.auth"
"""Where the gate leaves its :class:`GateResult` in the scope."""

_UVICORN_DENIAL_NOISE = "ASGI callable returned without completing handshake."
# Set in the task that serves a handshake this gate refused; uvicorn logs in that same task.
_REFUSED_HERE: ContextVar[bool] = ContextVar("myagent_gate_refused", default=False)


class DenialLogFilter(logging.Filter):
    """Drops uvicorn's spurious ERROR after a denial response this gate sent, and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_REFUSED_HERE.get() and record.getMessage() == _UVICORN_DENIAL_NOISE)


def _install_denial_log_filter() -> None:
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DenialLogFilter) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(DenialLogFilter())


@dataclass(frozen=True)
class GateResult:
    """What the gate decided about an admitted handshake.

    Attributes:
        handshake: the request, for ``authenticate_frame`` later.
        principal: the authenticated principal, or ``None`` (authentication off, or pending).
        awaiting_first_frame: authentication is on and must still come as ``user.authenticate``.
        limit_key: the key the connection is counted under (principal key or client address).
    """

    handshake: Handshake
    principal: Principal | None
    awaiting_first_frame: bool
    limit_key: str


class HandshakeGate:
    """Checks Origin, authentication and connections per principal before the upgrade.

    Args:
        app: the ASGI application to protect.
        origins: the allowlist; ``None`` turns the Origin check off.
        authenticator: ``None`` keeps authentication off (the default).
        max_connections_per_principal: ``None`` for no limit.
        filter_uvicorn_denial_noise: install :class:`DenialLogFilter` on ``uvicorn.error``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: OriginPolicy | None = None,
        authenticator: Authenticator | None = None,
        max_connections_per_principal: int | None = None,
        filter_uvicorn_denial_noise: bool = True,
    ) -> None:
        if filter_uvicorn_denial_noise:
            _install_denial_log_filter()
        self.app = app
        self.origins = origins
        self.authenticator = authenticator
        self.connections = KeyedCounter(max_connections_per_principal) if max_connections_per_principal else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        handshake = Handshake.from_scope(scope)
        if self.origins is not None and not self.origins.allows(
            handshake.origin, host=handshake.host, scheme=handshake.scheme
        ):
            await self._refuse(scope, receive, send, 403, "origin not allowed", handshake)
            return
        principal: Principal | None = None
        pending = False
        if self.authenticator is not None:
            outcome = await authenticate_handshake(self.authenticator, handshake)
            if isinstance(outcome, Authenticated):
                principal = outcome.principal
            elif isinstance(outcome, AwaitFirstFrame):
                pending = True
            else:
                await self._refuse(scope, receive, send, outcome.status, outcome.message, handshake)
                return
        key = (principal or anonymous_principal(handshake.client_host)).key
        slot = self.connections.acquire(key) if self.connections is not None else None
        if self.connections is not None and slot is None:
            await self._refuse(scope, receive, send, 429, "too many connections", handshake)
            return
        scope[SCOPE_KEY] = GateResult(handshake, principal, pending, key)
        try:
            await self.app(scope, receive, send)
        finally:
            if slot is not None:
                slot.release()

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str, handshake: Handshake
    ) -> None:
        logger.info("refused WebSocket handshake from %s: %d %s", handshake.client_host or "?", status, message)
        _REFUSED_HERE.set(True)
        connect = await receive()
        if connect.get("type") != "websocket.connect":
            return  # the client went away already
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": CloseCodes.POLICY_VIOLATION})
            return
        body = json.dumps({"status": status, "error": HANDSHAKE_REFUSALS.get(status, ""), "message": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

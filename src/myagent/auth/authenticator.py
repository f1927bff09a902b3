"""The authentication hook and the two moments it runs: at the handshake and on ``user.authenticate``.

An authenticator is any callable ``(handshake, token) -> Principal``, plain or ``async``. It
refuses by raising :class:`~myagent.auth.errors.AuthError` (or by returning ``None``, which is a
401). ``token`` is the bearer token the client presented — from ``Authorization: Bearer`` at the
handshake or from a ``user.authenticate`` frame — or ``None`` when there was none, so a hook can
also authenticate by cookie or client certificate headers.

The connection uses it in this order (no I/O here; the server does the sending):

1. :func:`authenticate_handshake` before the upgrade. A principal: accept. A 403, or a 401 for a
   token that was presented: refuse with that HTTP status. A 401 with no token presented:
   accept and wait for ``user.authenticate`` (browsers cannot set headers).
2. :func:`authenticate_frame` for that first frame (and for later refreshes, with ``current``):
   a principal, or an ``AuthError`` whose ``close_code`` (4401/4403) ends the connection.
3. :meth:`Principal.seconds_left` schedules the close with 4401 when the token expires.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from myagent.auth.errors import AuthError
from myagent.auth.handshake import Handshake, bearer_token
from myagent.auth.principal import Principal
from myagent.errors import ConfigError
from myagent.protocol.text import has_lone_surrogate

__all__ = [
    "MAX_TOKEN_CHARS",
    "Authenticated",
    "Authenticator",
    "AwaitFirstFrame",
    "HandshakeOutcome",
    "Refused",
    "authenticate_frame",
    "authenticate_handshake",
    "call_authenticator",
    "token_from_frame",
]

Authenticator: TypeAlias = Callable[[Handshake, str | None], Principal | Awaitable[Principal | None] | None]
"""``(handshake, token) -> Principal`` (or ``None`` for "no"), sync or async; refuses with ``AuthError``."""

MAX_TOKEN_CHARS = 16_384


@dataclass(frozen=True)
class Authenticated:
    principal: Principal


@dataclass(frozen=True)
class AwaitFirstFrame:
    """No credentials in the handshake: upgrade, then require ``user.authenticate`` within the timeout."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """Refuse the handshake with this HTTP status (401 or 403)."""

    status: int
    message: str


HandshakeOutcome: TypeAlias = Authenticated | AwaitFirstFrame | Refused


async def call_authenticator(authenticator: Authenticator, handshake: Handshake, token: str | None) -> Principal:
    """Run the hook, awaiting it when it is async.

    Raises:
        AuthError: the hook refused (``None`` counts as a 401).
        ConfigError: the hook returned something that is not a ``Principal`` (a server bug).
    """
    result: Any = authenticator(handshake, token)
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        raise AuthError("credentials were refused" if token else "credentials are required")
    if not isinstance(result, Principal):
        raise ConfigError(f"the authenticator returned {type(result).__name__}, not a Principal")
    if result.is_expired():
        raise AuthError("the credentials have expired")
    return result


async def authenticate_handshake(authenticator: Authenticator, handshake: Handshake) -> HandshakeOutcome:
    """Decide a handshake before the upgrade (see the module docstring for the rules)."""
    token = bearer_token(handshake)
    try:
        return Authenticated(await call_authenticator(authenticator, handshake, token))
    except AuthError as error:
        if error.status == 401 and token is None:
            return AwaitFirstFrame(error.message)
        return Refused(error.status, error.message)


def token_from_frame(content: Any) -> str:
    """The token of a ``user.authenticate`` frame's ``content`` (``{"token": "…"}``).

    Raises:
        AuthError: (401) no usable token.
    """
    token = content.get("token") if isinstance(content, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise AuthError("user.authenticate needs `content.token`, a non-empty string")
    if len(token) > MAX_TOKEN_CHARS or has_lone_surrogate(token):
        raise AuthError("the token is not a usable string")
    return token.strip()


async def authenticate_frame(
    authenticator: Authenticator, handshake: Handshake, content: Any, *, current: Principal | None = None
) -> Principal:
    """The principal a ``user.authenticate`` frame proves.

    Args:
        current: the connection's principal when this is a refresh; fresh credentials for
            another principal are refused (403), so a connection never changes hands.

    Raises:
        AuthError: close the connection with ``error.close_code``.
    """
    principal = await call_authenticator(authenticator, handshake, token_from_frame(content))
    if current is not None and not current.same_party(principal):
        raise AuthError.forbidden("the new credentials belong to another principal")
    return principal

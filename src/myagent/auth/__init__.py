"""Who may use the server: principals, authenticators, token verifiers, the Origin allowlist.

Building blocks with no I/O of their own; the WebSocket server calls them at the handshake and
per frame (see ``docs/security.md``). Rate and quota limits live in :mod:`myagent.ws.limits`.
"""

from __future__ import annotations

from myagent.auth.authenticator import (
    Authenticated,
    Authenticator,
    AwaitFirstFrame,
    Refused,
    authenticate_frame,
    authenticate_handshake,
    call_authenticator,
    token_from_frame,
)
from myagent.auth.connection_auth import ConnectionAuth
from myagent.auth.errors import AuthError
from myagent.auth.handshake import Handshake, bearer_token
from myagent.auth.loader import build_authenticator, load_authenticator
from myagent.auth.origin import DEFAULT_ALLOWED_ORIGINS, OriginPolicy
from myagent.auth.principal import Principal, anonymous_principal
from myagent.auth.verifiers import JWTVerifier, StaticTokens

__all__ = [
    "DEFAULT_ALLOWED_ORIGINS",
    "AuthError",
    "Authenticated",
    "Authenticator",
    "AwaitFirstFrame",
    "ConnectionAuth",
    "Handshake",
    "JWTVerifier",
    "OriginPolicy",
    "Principal",
    "Refused",
    "StaticTokens",
    "anonymous_principal",
    "authenticate_frame",
    "authenticate_handshake",
    "bearer_token",
    "build_authenticator",
    "call_authenticator",
    "load_authenticator",
    "token_from_frame",
]

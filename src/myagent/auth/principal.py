"""Who is connected: a principal, and when its credentials run out."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Principal", "anonymous_principal"]


@dataclass(frozen=True)
class Principal:
    """An authenticated party.

    Attributes:
        id: stable identifier within its tenant (a JWT's ``sub``, a user id).
        tenant: the organisation it belongs to, if the deployment has several.
        claims: whatever else the authenticator learnt (roles, scopes, the whole JWT payload).
        expires_at: seconds since the epoch when its credentials expire (a JWT's ``exp``), or
            ``None`` when they do not; the connection closes with ``4401`` at that moment
            unless ``user.authenticate`` brought fresh credentials for the same principal.
    """

    id: str
    tenant: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    expires_at: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("a principal needs a non-empty string id")
        if self.expires_at is not None and not math.isfinite(self.expires_at):
            raise ValueError("expires_at must be a finite number of seconds since the epoch")

    @property
    def key(self) -> str:
        """One string naming the principal unambiguously (tenant and id): for ownership, limits, signed states."""
        return json.dumps([self.tenant, self.id], ensure_ascii=True, separators=(",", ":"))

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the credentials expire (≤ 0: expired), or ``None`` when they do not expire."""
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)

    def is_expired(self, now: float | None = None) -> bool:
        left = self.seconds_left(now)
        return left is not None and left <= 0

    def same_party(self, other: Principal) -> bool:
        """Whether ``other`` is the same principal (a token refresh must not switch principals)."""
        return self.key == other.key


def anonymous_principal(client_host: str | None) -> Principal:
    """The stand-in principal of a connection when authentication is off: its client address.

    Meant for per-principal limits (connections, sessions), which then apply per address. With
    authentication off, a client that changes address must still be able to resume its
    sessions with its resume token, so this is not meant for session ownership.
    """
    return Principal(f"anonymous@{client_host or 'unknown'}", None, {"anonymous": True})

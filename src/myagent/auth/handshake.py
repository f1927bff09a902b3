"""What an authenticator may look at: a read-only view of the WebSocket handshake. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Handshake", "bearer_token"]

_MAX_TOKEN_CHARS = 16_384


@dataclass(frozen=True)
class Handshake:
    """The request that opened a connection.

    Attributes:
        headers: lower-case header names; repeated headers joined with ``", "``.
        cookies: cookies of the ``Cookie`` header (unparsable ones left out).
        query: query-string parameters (first value of each). Tokens are never read from here:
            URLs end up in proxy and server logs and browser history.
        client: ``(host, port)`` of the peer as the server sees it (the proxy, behind one).
        subprotocols: what the client offered in ``Sec-WebSocket-Protocol``.
        path: the request path.
        scheme: ``ws`` or ``wss`` (``http``/``https`` for plain HTTP requests).
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    client: tuple[str, int] | None = None
    subprotocols: tuple[str, ...] = ()
    path: str = "/"
    scheme: str = "ws"

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> Handshake:
        """Build the view from an ASGI ``websocket`` (or ``http``) scope."""
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query_string = scope.get("query_string") or b""
        query = {k: v[0] for k, v in parse_qs(query_string.decode("latin-1"), keep_blank_values=True).items()}
        client = scope.get("client")
        return cls(
            headers=headers,
            cookies=_cookies(headers.get("cookie", "")),
            query=query,
            client=(str(client[0]), int(client[1] or 0)) if client else None,
            subprotocols=tuple(scope.get("subprotocols") or ()),
            path=str(scope.get("path") or "/"),
            scheme=str(scope.get("scheme") or "ws"),
        )

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")

    @property
    def host(self) -> str | None:
        return self.headers.get("host")

    @property
    def client_host(self) -> str | None:
        return self.client[0] if self.client else None


def bearer_token(handshake: Handshake) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``.

    Only this header is read: never the query string (logged by proxies), never a cookie
    (sent by the browser to any page's socket, which is what the Origin check is for).
    """
    value = handshake.headers.get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS or "," in token:
        return None
    return token


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}

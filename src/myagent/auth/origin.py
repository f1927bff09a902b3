"""Which browser origins may open a WebSocket: the allowlist, as pure functions. No I/O.

Browsers send ``Origin`` with every WebSocket handshake and let any page open a socket to any
host, so without this check any site a user visits could drive a server on their machine
(cross-site WebSocket hijacking). Clients that are not browsers (Python, Node.js) send no
``Origin``; they are not what this defends against and are admitted.

A pattern is ``scheme://host``, ``scheme://host:port`` or ``scheme://host:*`` (any port),
``null`` (pages opened from a file, sandboxed frames) or ``*`` (every origin: turns the check
off). A pattern without a port means the scheme's default port, as an ``Origin`` without a port
does.

The server's own origin is admitted too — but only when the ``Host`` the browser connected to is
an IP address or ``localhost``. A named host must be listed: otherwise DNS rebinding (a hostile
name that resolves to this machine) would make a hostile page look same-origin.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from myagent.errors import ConfigError

__all__ = [
    "DEFAULT_ALLOWED_ORIGINS",
    "AnyPort",
    "Origin",
    "OriginPattern",
    "OriginPolicy",
    "parse_origin",
    "parse_origin_pattern",
]

DEFAULT_ALLOWED_ORIGINS = (
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]:*",
    "https://[::1]:*",
    "null",
)
"""Admitted when nothing is configured: pages on this machine and pages opened from a file."""

_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BROWSER_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class AnyPort:
    """The ``:*`` of a pattern."""

    def __repr__(self) -> str:
        return "AnyPort()"


ANY_PORT = AnyPort()


@dataclass(frozen=True)
class Origin:
    """A parsed ``Origin`` header: lower-case scheme and host, explicit port."""

    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class OriginPattern:
    """One allowlist entry. ``kind`` is ``origin``, ``null`` or ``any``."""

    kind: str
    scheme: str = ""
    host: str = ""
    port: int | AnyPort = 0

    def matches(self, origin: Origin | None, raw: str) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "null":
            return raw == "null"
        if origin is None:
            return False
        port_ok = isinstance(self.port, AnyPort) or self.port == origin.port
        return port_ok and (self.scheme, self.host) == (origin.scheme, origin.host)


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` with nothing after it, or ``None`` when ``text`` is not such an origin."""
    if not text or text != text.strip() or len(text) > 2048:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port that is not a number or out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if not _HOST_NAME.fullmatch(host) and not _is_ipv6(host):
        return None
    return Origin(scheme, _bracketed(host), port if port is not None else _DEFAULT_PORTS[scheme])


def parse_origin_pattern(text: str) -> OriginPattern:
    """An allowlist entry from configuration.

    Raises:
        ConfigError: ``text`` is not ``*``, ``null`` or ``scheme://host[:port|:*]``.
    """
    value = text.strip()
    if value == "*":
        return OriginPattern("any")
    if value.lower() == "null":
        return OriginPattern("null")
    any_port = value.endswith(":*")
    base = value[:-2] if any_port else value
    origin = parse_origin(base)
    if origin is None or (any_port and _explicit_port(base)):
        raise ConfigError(f"allowed origin {text!r} is not `*`, `null` or scheme://host[:port|:*]")
    return OriginPattern("origin", origin.scheme, origin.host, ANY_PORT if any_port else origin.port)


def _explicit_port(text: str) -> bool:
    return urlsplit(text).port is not None


class OriginPolicy:
    """The allowlist a server checks every handshake's ``Origin`` against.

    Args:
        patterns: allowlist entries (see the module docstring); replaces the default list.
    """

    def __init__(self, patterns: Iterable[str] = DEFAULT_ALLOWED_ORIGINS) -> None:
        self.patterns = tuple(parse_origin_pattern(p) for p in patterns)

    def allows(self, origin: str | None, *, host: str | None = None, scheme: str = "ws") -> bool:
        """Whether a handshake with this ``Origin`` header may proceed.

        Args:
            origin: the ``Origin`` header, ``None`` when absent (not a browser: admitted).
            host: the ``Host`` header the client connected to, for the same-origin rule.
            scheme: the scheme of the request (``ws``/``wss``/``http``/``https``).
        """
        if origin is None:
            return True
        parsed = parse_origin(origin)
        if any(pattern.matches(parsed, origin) for pattern in self.patterns):
            return True
        return parsed is not None and _is_own_origin(parsed, host, scheme)


def _is_own_origin(origin: Origin, host: str | None, scheme: str) -> bool:
    browser_scheme = _BROWSER_SCHEMES.get(scheme.lower())
    if not host or browser_scheme is None:
        return False
    own = parse_origin(f"{browser_scheme}://{host}")
    return own is not None and own == origin and _is_local_or_ip(own.host)


def _is_local_or_ip(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    """IPv6 hosts keep their brackets, as they appear in an ``Origin``."""
    return f"[{host}]" if ":" in host else host

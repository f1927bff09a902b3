"""One shared HTTP client per endpoint configuration, per event loop.

Building a client is expensive (a connection pool, TLS set-up, ~1 MB of memory with the ``openai``
SDK) and a client per session also means a new TCP connection per session. So every model that
talks to the same endpoint with the same settings shares one :class:`aiohttp.ClientSession`,
created on first use inside the running loop (clients are bound to the loop that made them, which
is why the registry is kept per loop). :func:`close_shared_clients` closes them all; the server
calls it on shutdown, library users call it (or a model's ``aclose()``) before their loop ends.
This module imports ``aiohttp`` only when a client is first needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiohttp is imported on first use: importing myagent stays cheap
    import aiohttp

__all__ = ["Endpoint", "close_endpoint", "close_shared_clients", "open_client_count", "shared_client"]

logger = logging.getLogger(__name__)

#: Idle keep-alive connections are closed after this many seconds.
_KEEPALIVE_SECONDS = 30.0

_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Endpoint, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Endpoint:
    """What makes two models' HTTP clients interchangeable. The key is never shown in ``repr``."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, base_url: str, api_key: str, timeout: float, headers: Mapping[str, str] | None = None) -> Endpoint:
        return cls(base_url.rstrip("/"), api_key, timeout, tuple(sorted((headers or {}).items())))


def shared_client(endpoint: Endpoint) -> aiohttp.ClientSession:
    """The running loop's client for ``endpoint``, created on first use.

    Raises:
        RuntimeError: no event loop is running.
    """
    loop = asyncio.get_running_loop()
    clients = _registry.setdefault(loop, {})
    client = clients.get(endpoint)
    if client is None or client.closed:
        client = clients[endpoint] = _new_client(endpoint)
    return client


def _new_client(endpoint: Endpoint) -> aiohttp.ClientSession:
    import aiohttp
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    # The proxy (HTTP(S)_PROXY / NO_PROXY) is looked up once here: aiohttp's ``trust_env`` would
    # look it up, and read ~/.netrc, in a worker thread on every request.
    proxy, proxy_auth = None, None
    with contextlib.suppress(LookupError):  # no proxy for this URL
        proxy, proxy_auth = get_env_proxy_for_url(URL(endpoint.base_url))
    # No connection limit: every concurrent stream needs its own HTTP/1.1 connection, and queueing
    # a stream behind others would only turn into a time-out. Time-outs are set per request.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=_KEEPALIVE_SECONDS)
    headers = {
        "Authorization": f"Bearer {endpoint.api_key}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        **dict(endpoint.headers),
    }
    return aiohttp.ClientSession(
        connector=connector,
        headers=headers,
        proxy=proxy,
        proxy_auth=proxy_auth,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),  # nothing an endpoint sets leaks between sessions
        auto_decompress=True,
        raise_for_status=False,
    )


def open_client_count() -> int:
    """How many shared clients the running loop has open (for tests and metrics)."""
    return sum(not client.closed for client in _registry.get(asyncio.get_running_loop(), {}).values())


async def close_endpoint(endpoint: Endpoint) -> None:
    """Close the running loop's client for ``endpoint`` (the next call opens a new one)."""
    clients = _registry.get(asyncio.get_running_loop(), {})
    client = clients.pop(endpoint, None)
    if client is not None:
        await client.close()


async def close_shared_clients() -> None:
    """Close every shared model client of the running loop; safe to call more than once."""
    clients = _registry.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        try:
            await client.close()
        except Exception:  # closing one must not keep the others open
            logger.warning("closing a model HTTP client failed", exc_info=True)

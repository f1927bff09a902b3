"""Resources tools hold open (MCP connections, child processes), closed with their agent or the server.

Dependency-free on purpose: the server calls :func:`close_agent` when a session ends and
:func:`close_all` when it shuts down, whether or not any optional integration is installed.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["Closeable", "close_agent", "close_all", "keep_until_shutdown", "on_agent_close"]

logger = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]


class Closeable(Protocol):
    async def aclose(self) -> None: ...


_by_agent: weakref.WeakKeyDictionary[Any, list[Closer]] = weakref.WeakKeyDictionary()
_shared: weakref.WeakSet[Any] = weakref.WeakSet()


def on_agent_close(agent: object, close: Closer) -> None:
    """Call ``close`` when ``agent``'s session ends (see :func:`close_agent`)."""
    _by_agent.setdefault(agent, []).append(close)


def keep_until_shutdown(resource: Closeable) -> None:
    """Close ``resource`` when the server shuts down (it stays usable until then)."""
    _shared.add(resource)


async def close_agent(agent: object) -> None:
    """Close what was registered for ``agent``, newest first; failures are logged, not raised."""
    for close in reversed(_by_agent.pop(agent, [])):
        await _quietly(close)


async def close_all() -> None:
    """Close every resource registered with :func:`keep_until_shutdown`."""
    for resource in list(_shared):
        _shared.discard(resource)
        await _quietly(resource.aclose)


async def _quietly(close: Closer) -> None:
    try:
        await close()
    except Exception:  # closing is best effort: one stuck resource must not keep others open
        logger.warning("closing a tool resource failed", exc_info=True)

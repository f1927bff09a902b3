"""Control commands for a session's run, delivered to whichever process runs it.

A confirmation answer, a cancel or a plan control may arrive on any connection of any process; the
command travels over a :class:`ControlBus` to the process that holds the session's agent (the holder
of its run lease) and the result comes back. In one process the bus is a direct call.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from myagent.errors import MyAgentError

__all__ = ["ControlBus", "ControlCommand", "ControlResult", "InMemoryControlBus", "NodeUnreachable"]


@dataclass(frozen=True)
class ControlCommand:
    """What to do to a session: ``kind`` is a :class:`~myagent.ws.service.SessionService` operation name."""

    session_id: str
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlResult:
    """The outcome: ``ok``, or an error code from the protocol's table with a message."""

    ok: bool = True
    code: str | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class NodeUnreachable(MyAgentError):
    """No process answers for that node id (it stopped or never existed)."""


Handler = Callable[[ControlCommand], Awaitable[ControlResult]]


class ControlBus(abc.ABC):
    """Carries a command to one node and brings back its result."""

    @abc.abstractmethod
    async def register(self, node_id: str, handler: Handler) -> None:
        """Receive the commands sent to ``node_id``."""

    @abc.abstractmethod
    async def unregister(self, node_id: str) -> None: ...

    @abc.abstractmethod
    async def send(self, node_id: str, command: ControlCommand) -> ControlResult:
        """Deliver ``command`` to ``node_id``.

        Raises:
            NodeUnreachable: no process serves ``node_id``.
        """

    @abc.abstractmethod
    async def alive(self, node_id: str) -> bool:
        """Whether a process serves ``node_id`` now (a node that stopped without a word counts as gone)."""


class InMemoryControlBus(ControlBus):
    """Nodes in one process (tests, or several services in one app)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    async def register(self, node_id: str, handler: Handler) -> None:
        self._handlers[node_id] = handler

    async def unregister(self, node_id: str) -> None:
        self._handlers.pop(node_id, None)

    async def send(self, node_id: str, command: ControlCommand) -> ControlResult:
        handler = self._handlers.get(node_id)
        if handler is None:
            raise NodeUnreachable(f"node {node_id} is not running")
        return await handler(command)

    async def alive(self, node_id: str) -> bool:
        return node_id in self._handlers

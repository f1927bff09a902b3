"""Python client SDK for myagent servers (asyncio, with a small synchronous wrapper).

::

    from myagent.client import AgentClient

    async with AgentClient("ws://localhost:8080") as client:
        session = await client.create_session()
        print(await session.ask("北京天气怎么样"))

See ``docs/client.md`` for delivery guarantees, confirmations, resume/restore and errors.
"""

from __future__ import annotations

from myagent.client.client import AgentClient
from myagent.client.errors import (
    ClientConnectionError,
    ClientError,
    ClientProtocolError,
    ConnectionLostError,
    RunFailedError,
    RunInterruptedError,
    RunLostError,
    SessionClosedError,
    SessionTakenOverError,
)
from myagent.client.events import (
    RUN_CLOSING_EVENTS,
    ConfirmAnswer,
    ConfirmRequest,
    Event,
    ToolCallInfo,
    ToolResultInfo,
)
from myagent.client.session import ConfirmCallback, RunStream, Session
from myagent.client.state_store import FileStateStore, MemoryStateStore, StateStore
from myagent.client.sync import SyncAgentClient, SyncSession, connect

__all__ = [
    "RUN_CLOSING_EVENTS",
    "AgentClient",
    "ClientConnectionError",
    "ClientError",
    "ClientProtocolError",
    "ConfirmAnswer",
    "ConfirmCallback",
    "ConfirmRequest",
    "ConnectionLostError",
    "Event",
    "FileStateStore",
    "MemoryStateStore",
    "RunFailedError",
    "RunInterruptedError",
    "RunLostError",
    "RunStream",
    "Session",
    "SessionClosedError",
    "SessionTakenOverError",
    "StateStore",
    "SyncAgentClient",
    "SyncSession",
    "ToolCallInfo",
    "ToolResultInfo",
    "connect",
]

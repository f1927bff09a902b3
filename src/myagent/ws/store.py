"""Session records and where they are kept: plain data a second process can read and write.

A :class:`SessionRecord` holds what outlives a process: ids, owner, the resume token's hash, status,
deadlines, the conversation checkpoint, pending confirmations and the plan context. Live objects
(the agent, its run task, futures) stay in the process that runs the session.
"""

from __future__ import annotations

import abc
import copy
import hashlib
import hmac
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["InMemorySessionStore", "SessionRecord", "SessionStore", "hash_token", "token_matches"]

Status = Literal["attached", "detached", "closed"]


def hash_token(token: str) -> str:
    """What a store keeps of a resume token (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, token_hash: str | None) -> bool:
    return token_hash is not None and hmac.compare_digest(hash_token(token), token_hash)


@dataclass
class SessionRecord:
    """A session as any process sees it.

    Attributes:
        id: the session id.
        owner: the principal that created the session (``None`` while authentication is off).
        resume_token_hash: :func:`hash_token` of the current resume token.
        previous_token_hash: the token a resume replaced, still accepted until the client shows it
            got the new one (a frame on that connection, or a clean close): a connection that died
            before the new token reached the client must not lock the client out.
        node_id: the process that holds the session's agent and runs it.
        connection_id: the connection the session is attached to, if any.
        attached_node: the process serving that connection.
        status: attached, detached (waiting for a reconnect until ``expires_at``) or closed.
        created_at: UNIX time of creation.
        expires_at: UNIX time after which a detached session is closed.
        agent_name: the agent's name.
        conversation: the agent's messages at the last checkpoint (when the store keeps checkpoints:
            after every message, tool result and confirmation of a run, and at its end).
        pending_confirmations: step ids, call ids and tool names of confirmations waiting for an answer.
        plan_context: the Plan & Solve context at the last checkpoint.
        quota_key: what the session counts against (its owner, or its creator's address while
            authentication is off).
        running: a run was under way at the last checkpoint (another process continues it if this
            one dies).
        current_step: the agent's step counter at the last checkpoint.
    """

    id: str
    resume_token_hash: str
    node_id: str
    owner: str | None = None
    connection_id: str | None = None
    attached_node: str | None = None
    status: Status = "attached"
    created_at: float = 0.0
    expires_at: float | None = None
    agent_name: str = ""
    conversation: list[dict[str, Any]] = field(default_factory=list)
    pending_confirmations: list[dict[str, Any]] = field(default_factory=list)
    plan_context: dict[str, Any] | None = None
    quota_key: str | None = None
    running: bool = False
    current_step: int = 0
    previous_token_hash: str | None = None


class SessionStore(abc.ABC):
    """Session records by id. Every method returns copies: a record is data, not a shared object.

    Attributes:
        keeps_checkpoints: whether the service stores each session's conversation after every run
            (needed where another process may have to continue it).
    """

    keeps_checkpoints = True

    @abc.abstractmethod
    async def put(self, record: SessionRecord) -> None:
        """Create or replace ``record``."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    async def delete(self, session_id: str) -> bool:
        """Remove a record; false if it was not there (someone else removed it first)."""

    @abc.abstractmethod
    async def claim_expired(self, now: float) -> list[SessionRecord]:
        """Remove and return the detached records whose deadline has passed (each is returned to one caller)."""

    @abc.abstractmethod
    async def count(self, *, node_id: str | None = None, quota_key: str | None = None) -> int:
        """Live records, optionally only those run by ``node_id`` or counted against ``quota_key``."""

    @abc.abstractmethod
    async def node_ids(self) -> set[str]:
        """The processes that run at least one live record."""

    @abc.abstractmethod
    async def ids(self, *, node_id: str) -> list[str]:
        """The ids of the live records run by ``node_id``."""

    async def update(self, session_id: str, **changes: Any) -> SessionRecord | None:
        """Change some fields of a record; ``None`` if it is gone."""
        record = await self.get(session_id)
        if record is None:
            return None
        record = replace(record, **changes)
        await self.put(record)
        return record


class InMemorySessionStore(SessionStore):
    """Records in this process's memory (several services in one process may share one instance).

    Args:
        keeps_checkpoints: also keep each conversation after every run (off: the agents that hold
            them live in this process).
    """

    def __init__(self, *, keeps_checkpoints: bool = False) -> None:
        self.keeps_checkpoints = keeps_checkpoints
        self._records: dict[str, SessionRecord] = {}
        # Live records per quota key: creating a session checks its creator's count, and scanning
        # every record there made creating N sessions cost O(N²) (one client, thousands of sessions).
        self._per_quota: dict[str, int] = {}

    async def put(self, record: SessionRecord) -> None:
        self._forget(self._records.get(record.id))
        self._records[record.id] = copy.copy(record)
        if record.quota_key is not None:
            self._per_quota[record.quota_key] = self._per_quota.get(record.quota_key, 0) + 1

    def _forget(self, record: SessionRecord | None) -> None:
        """Take a record that leaves (or is replaced) out of its quota key's count."""
        if record is None or record.quota_key is None:
            return
        left = self._per_quota[record.quota_key] - 1
        if left:
            self._per_quota[record.quota_key] = left
        else:
            del self._per_quota[record.quota_key]

    async def get(self, session_id: str) -> SessionRecord | None:
        record = self._records.get(session_id)
        return None if record is None else copy.copy(record)

    async def delete(self, session_id: str) -> bool:
        record = self._records.pop(session_id, None)
        self._forget(record)
        return record is not None

    async def claim_expired(self, now: float) -> list[SessionRecord]:
        expired = [
            record
            for record in self._records.values()
            if record.status == "detached" and record.expires_at is not None and record.expires_at <= now
        ]
        for record in expired:
            del self._records[record.id]
            self._forget(record)
        return expired

    async def count(self, *, node_id: str | None = None, quota_key: str | None = None) -> int:
        if node_id is None and quota_key is None:
            return len(self._records)
        if node_id is None and quota_key is not None:
            return self._per_quota.get(quota_key, 0)
        return sum(
            1
            for record in self._records.values()
            if (node_id is None or record.node_id == node_id) and (quota_key is None or record.quota_key == quota_key)
        )

    async def node_ids(self) -> set[str]:
        return {record.node_id for record in self._records.values()}

    async def ids(self, *, node_id: str) -> list[str]:
        return [record.id for record in self._records.values() if record.node_id == node_id]

    def __len__(self) -> int:
        return len(self._records)

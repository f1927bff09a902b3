"""Key names of the Redis backends, in one place.

Every key of one session carries the ``{session_id}`` hash tag, so a session's keys live in one
Redis Cluster slot and one Lua script may touch them all. Indexes over all sessions and the
per-node keys cannot share a slot with anything; the scripts that use them need a single Redis
(or a Cluster with those keys kept on one shard).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    """Names under ``prefix`` (default ``myagent``); several deployments can share a Redis with different prefixes."""

    prefix: str = "myagent"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}:{{{session_id}}}"

    def record(self, session_id: str) -> str:
        return f"{self.session(session_id)}:record"

    def events(self, session_id: str) -> str:
        return f"{self.session(session_id)}:events"

    def seq(self, session_id: str) -> str:
        return f"{self.session(session_id)}:seq"

    def acked(self, session_id: str) -> str:
        return f"{self.session(session_id)}:acked"

    def lease(self, session_id: str) -> str:
        return f"{self.session(session_id)}:lease"

    def fence(self, session_id: str) -> str:
        return f"{self.session(session_id)}:fence"

    def wake(self, session_id: str) -> str:
        """The pub/sub channel announcing a new event of the session (a wake-up, never the event)."""
        return f"{self.session(session_id)}:wake"

    @property
    def index(self) -> str:
        """Prefix of the indexes over every session (all, by node, by owner, deadlines)."""
        return f"{self.prefix}:index:"

    def commands(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:commands"

    def alive(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:alive"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}:reply:{request_id}"

"""Where live sessions are registered (in memory now; a shared store can implement the same interface)."""

from __future__ import annotations

import abc
from collections.abc import Iterator

from myagent.ws.session import Session

__all__ = ["InMemorySessionStore", "SessionStore"]


class SessionStore(abc.ABC):
    """Registry of live sessions by id."""

    @abc.abstractmethod
    def add(self, session: Session) -> None: ...

    @abc.abstractmethod
    def get(self, session_id: str) -> Session | None: ...

    @abc.abstractmethod
    def remove(self, session_id: str) -> Session | None: ...

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Session]: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...


class InMemorySessionStore(SessionStore):
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def remove(self, session_id: str) -> Session | None:
        return self._sessions.pop(session_id, None)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

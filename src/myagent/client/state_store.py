"""Where the client keeps signed session states (see ``docs/state.md``) for automatic restores."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["FileStateStore", "MemoryStateStore", "StateStore", "write_json_atomically"]


class StateStore(Protocol):
    """Keeps the latest signed state of each session, by session id.

    With ``AgentClient(state_store=...)`` the client saves a state after every final answer and
    loads it when a session it tries to resume no longer exists on the server. Either method may
    be a coroutine function.
    """

    def save(self, session_id: str, signed_state: dict[str, Any]) -> Awaitable[None] | None: ...

    def load(self, session_id: str) -> dict[str, Any] | Awaitable[dict[str, Any] | None] | None: ...


class MemoryStateStore:
    """States in a dict: survives reconnects and server restarts, not the client process."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def save(self, session_id: str, signed_state: dict[str, Any]) -> None:
        self.states[session_id] = signed_state

    def load(self, session_id: str) -> dict[str, Any] | None:
        return self.states.get(session_id)


class FileStateStore:
    """One JSON file per session in ``directory`` (created when needed), written atomically."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, session_id: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', session_id)}.json"

    def save(self, session_id: str, signed_state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path_for(session_id), signed_state)

    def load(self, session_id: str) -> dict[str, Any] | None:
        path = self.path_for(session_id)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None


def write_json_atomically(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON so that readers see the old file or the new one, never half of it."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, ensure_ascii=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""A blocking wrapper for scripts and notebooks: the asyncio client runs in a background thread.

::

    from myagent.client import connect

    with connect("ws://localhost:8080") as client:
        session = client.create_session()
        print(session.ask("北京天气怎么样"))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, Self, TypeVar

from myagent.client.client import AgentClient
from myagent.client.errors import ClientConnectionError
from myagent.client.events import Event
from myagent.client.session import ConfirmCallback, RunStream, Session

__all__ = ["SyncAgentClient", "SyncSession", "connect"]

T = TypeVar("T")


class SyncAgentClient:
    """:class:`AgentClient` behind blocking calls.

    Args:
        url: ``ws://host:port`` of the server.
        timeout: seconds any one call may block (``None``: no limit).
        **options: keyword arguments of :class:`AgentClient` (``confirm``, ``reconnect`` ...). A
            ``confirm`` callback runs on the client's thread.

    Raises:
        ClientConnectionError: the server cannot be reached.
    """

    def __init__(self, url: str, *, timeout: float | None = None, **options: Any) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="myagent-sync-client", daemon=True)
        self._thread.start()
        self._closed = False
        try:
            self.client: AgentClient = self._call(_connect(url, options))
        except BaseException:
            self._stop_loop()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_session(self) -> SyncSession:
        return SyncSession(self, self._call(self.client.create_session()))

    def resume_session(self, session_id: str, resume_token: str, **position: Any) -> SyncSession:
        return SyncSession(self, self._call(self.client.resume_session(session_id, resume_token, **position)))

    def restore_session(self, signed_state: dict[str, Any], *, last_event_id: str | None = None) -> SyncSession:
        return SyncSession(self, self._call(self.client.restore_session(signed_state, last_event_id=last_event_id)))

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._call(self.client.close())
        finally:
            self._closed = True
            self._stop_loop()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            work.close()
            raise ClientConnectionError("the client is closed")
        if threading.current_thread() is self._thread:
            work.close()
            raise RuntimeError("blocking client calls cannot be made from the client's own thread")
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {self.timeout} s") from None

    def _iterate(self, stream: AsyncIterator[Event]) -> Iterator[Event]:
        async def step() -> Event | None:
            return await anext(stream, None)

        try:
            while (event := self._call(step())) is not None:
                yield event
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None and not self._closed:
                with contextlib.suppress(Exception):
                    self._call(close())

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class SyncSession:
    """Blocking view of a :class:`Session`; the same methods, without ``await``."""

    def __init__(self, owner: SyncAgentClient, session: Session) -> None:
        self._owner = owner
        self.session = session

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def resume_token(self) -> str:
        return self.session.resume_token

    @property
    def signed_state(self) -> dict[str, Any] | None:
        return self.session.signed_state

    def ask(self, text: str, *, confirm: ConfirmCallback | None = None) -> str:
        """The final answer (raises ``RunFailedError``/``RunInterruptedError`` like the async one)."""
        return self._owner._call(self.session.ask(text, confirm=confirm))

    def send(self, text: str, *, confirm: ConfirmCallback | None = None) -> list[Event]:
        """Every event of the run, the closing one last."""
        return list(self.stream(text, confirm=confirm))

    def stream(self, text: str, *, confirm: ConfirmCallback | None = None) -> Iterator[Event]:
        """Send now; the run's events as they arrive."""

        async def start() -> RunStream:
            return self.session.send(text, confirm=confirm)

        return self._owner._iterate(self._owner._call(start()))

    def follow(self) -> Iterator[Event]:
        return self._owner._iterate(self.session.follow())

    def solve_tasks(self, tasks: list[Any], question: str | None = None) -> list[Event]:
        async def start() -> RunStream:
            return self.session.solve_tasks(tasks, question)

        return list(self._owner._iterate(self._owner._call(start())))

    def confirm(self, step_id: str, confirmed: bool = True, message: str | None = None) -> None:
        self._owner._call(self.session.confirm(step_id, confirmed, message))

    def cancel(self) -> bool:
        return self._owner._call(self.session.cancel())

    def export_state(self) -> dict[str, Any]:
        return self._owner._call(self.session.export_state())

    def close(self) -> None:
        self._owner._call(self.session.close())

    def cancel_task(self, task_id: str | int) -> None:
        self._owner._call(self.session.cancel_task(task_id))

    def restart_task(self, task_id: str | int) -> None:
        self._owner._call(self.session.restart_task(task_id))

    def cancel_plan(self) -> None:
        self._owner._call(self.session.cancel_plan())

    def replan(self, question: str | None = None) -> None:
        self._owner._call(self.session.replan(question))


def connect(url: str, **options: Any) -> SyncAgentClient:
    """A connected :class:`SyncAgentClient` (use it as a context manager)."""
    return SyncAgentClient(url, **options)


async def _connect(url: str, options: dict[str, Any]) -> AgentClient:
    client = AgentClient(url, **options)
    await client.connect()
    return client

"""One conversation: what the application calls (send, ask, confirm, ...) and what the reader feeds in.

The client's single reader task hands every frame of this session to ``_receive_*`` (synchronous,
in arrival order). Sequenced events are de-duplicated by ``seq`` (gapless per session, so
``seq <= last_seq`` is a repeat) and then either answer a request waiting for them (the reply of
``export_state``, ``close``...) or go to the inbox, tagged with the run they end, if any.
``send()`` streams read the inbox up to the end of their own run; ``follow()`` reads the rest.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from myagent.client.errors import (
    ClientError,
    ClientProtocolError,
    RunFailedError,
    RunInterruptedError,
    RunLostError,
    SessionClosedError,
    SessionTakenOverError,
)
from myagent.client.events import ConfirmAnswer, ConfirmRequest, Event
from myagent.client.runs import FOREIGN, InboxItem, OwnRun, PipelineTrack, RunStream, is_run_event, task_ids
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import AgentEvents, UserEvents
from myagent.protocol.rules import NoticeActions

if TYPE_CHECKING:
    from myagent.client.client import AgentClient, Link

__all__ = ["ConfirmCallback", "RunStream", "Session"]

logger = logging.getLogger(__name__)

ConfirmResult = bool | ConfirmAnswer
ConfirmCallback = Callable[[ConfirmRequest], ConfirmResult | Awaitable[ConfirmResult]]

_MAX_ANSWERS = 256
_BUSY_RETRIES = 4
_BUSY_RETRY_DELAY = 0.025  # seconds, doubled per retry
_CONTROLS = frozenset(
    {UserEvents.CANCEL_TASK, UserEvents.RESTART_TASK, UserEvents.CANCEL_PLAN, UserEvents.REPLAN}
)  # acknowledged with a system.notice whose action is the event name without "user."


@dataclass(eq=False)
class _Waiter:
    """A request whose answer is an event (or a ``system.error`` naming ``request``)."""

    request: str
    frame: dict[str, Any]
    match: Callable[[Event], bool]
    consume: bool
    future: asyncio.Future[Event | None]
    generation: int = 0


class Session:
    """A session on the server, possibly across several connections and (after a restore) ids.

    Attributes:
        session_id: the current server session id (changes when the session is restored from state).
        resume_token: secret that lets this client resume the session.
        created: the ``agent.session_created``/``agent.state_restored`` event that opened it.
        signed_state: the latest exported signed state, used to restore the session if it expires.
        last_seq: ``seq`` of the last event received (every event up to it was delivered once).
        replay_gaps: ``(first, last)`` ranges the server could no longer replay.
        duplicates_dropped: repeated events that were not delivered again.
        closed_reason: why the session ended (``None`` while it is usable).
    """

    def __init__(self, client: AgentClient, session_id: str, resume_token: str, *, last_seq: int = 0) -> None:
        self._client = client
        self.session_id = session_id
        self.resume_token = resume_token
        self.created: Event | None = None
        self.signed_state: dict[str, Any] | None = None
        self.last_seq = last_seq
        self.replay_gaps: list[tuple[int, int]] = []
        self.duplicates_dropped = 0
        self.closed_reason: str | None = None
        self._closed_error: ClientError | None = None
        self._acked_seq = 0
        self._inbox: asyncio.Queue[InboxItem] = asyncio.Queue()
        self._stream_ids = itertools.count(1)
        self._own: OwnRun | None = None
        self._foreign = False  # a run this client did not start is in progress
        self._track = PipelineTrack()
        self._soft_ended = False  # the last run ended without a closing event (see _receive_error)
        self._busy_retries = 0
        self._waiters: list[_Waiter] = []
        self._answers: dict[str, tuple[ConfirmAnswer, int | None]] = {}
        self._confirming: set[str] = set()
        self._resume_target: tuple[int, bool] | None = None
        self._needs_restore = False
        self._replayed = asyncio.Event()
        self._replayed.set()

    def __repr__(self) -> str:
        return f"<Session {self.session_id} last_seq={self.last_seq}{' closed' if self.closed else ''}>"

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    @property
    def busy(self) -> bool:
        """Whether a run is in progress as far as this client knows."""
        return self._own is not None or self._foreign

    @property
    def last_event_id(self) -> str | None:
        return f"{self.session_id}:{self.last_seq}" if self.last_seq else None

    # -- runs ---------------------------------------------------------------------------------

    def send(self, text: str, *, confirm: ConfirmCallback | None = None) -> RunStream:
        """Ask the agent now; iterate the result for every event of the run, the closing one last.

        ``confirm`` overrides the client's confirmation callback for this run.

        Raises:
            ClientProtocolError: ``SESSION_BUSY`` (``local=True``) at once while this client's
                previous run is still going; while iterating, when the server rejects the message.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message must be a non-empty string")
        return self._start_run({"event": UserEvents.MESSAGE, "content": text}, confirm)

    async def ask(self, text: str, *, confirm: ConfirmCallback | None = None) -> str:
        """Ask the agent and return its final answer.

        Raises:
            RunFailedError: the run ended with ``agent.error``.
            RunInterruptedError: the run was cancelled.
        """
        events = await self.send(text, confirm=confirm).collect()
        return _answer_of(events[-1])

    def solve_tasks(
        self,
        tasks: list[Any],
        question: str | None = None,
        *,
        plan_summary: str | None = None,
        confirm: ConfirmCallback | None = None,
    ) -> RunStream:
        """Plan & Solve direct mode: solve ``tasks`` (objects with an ``id``); a run like :meth:`send`.

        The stream ends when every task has finished (completed, failed or cancelled), at
        ``plan.coercion_error``, or at a closing event (e.g. ``agent.interrupted`` after ``cancel()``).
        """
        if not isinstance(tasks, list):
            raise TypeError("tasks must be a list of task objects")
        content: dict[str, Any] = {"tasks": tasks}
        if question is not None:
            content["question"] = question
        if plan_summary is not None:
            content["plan_summary"] = plan_summary
        frame = {"event": UserEvents.SOLVE_TASKS, "content": content}
        stream = self._start_run(frame, confirm, task_ids(tasks))
        self._track.direct = True
        return stream

    async def follow(self) -> AsyncIterator[Event]:
        """Events nobody has read yet; if a run is in progress, continue until it ends.

        Use it for runs the client did not start with ``send`` (one a restore or ``restart_task``
        started, one in progress when the session was resumed) and for events that arrived
        between runs (a ``system.error`` about a confirmation ...).
        """
        active = self.busy
        while active or not self._inbox.empty():
            item = await self._inbox.get()
            if item.error is not None:
                if active:
                    raise item.error
                continue
            assert item.event is not None
            yield item.event
            if active and item.ends is not None:
                return

    def _start_run(
        self, frame: dict[str, Any], confirm: ConfirmCallback | None, tasks: frozenset[str] | None = None
    ) -> RunStream:
        self._check_usable()
        if self._own is not None:
            raise ClientProtocolError(
                ErrorCodes.SESSION_BUSY,
                "this client's previous run is still going; wait for it or cancel it",
                request_event=str(frame["event"]),
                session_id=self.session_id,
                local=True,
            )
        sent = self._client._enqueue(frame, self)
        own = OwnRun(next(self._stream_ids), frame, self.last_seq, confirm, tasks)
        self._own = own

        def note_sent(future: asyncio.Future[int]) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                own.generation = future.result()
            elif self._own is own and isinstance(error, ClientError):
                self._end_own(error)

        sent.add_done_callback(note_sent)
        return RunStream(self._read_run(own.stream))

    async def _read_run(self, stream: int) -> AsyncGenerator[Event, None]:
        while True:
            item = await self._inbox.get()
            if item.error is not None:
                if item.ends == stream:
                    raise item.error
                continue  # it ended a run nobody reads any more
            assert item.event is not None
            yield item.event
            if item.ends == stream:
                return

    # -- controls -----------------------------------------------------------------------------

    async def confirm(
        self, step_id: str, confirmed: bool = True, message: str | None = None, *, tasks: list[Any] | None = None
    ) -> None:
        """Answer an ``agent.user_confirm``. A later ``system.error`` about it arrives as an event in the stream."""
        self._check_usable()
        answer = ConfirmAnswer(confirmed, message, tasks)
        self._remember_answer(step_id, answer, None)
        await self._send_answer(step_id, answer)

    def is_answered(self, step_id: str) -> bool:
        """Whether this client already answered (or is answering) the confirmation ``step_id``."""
        return step_id in self._answers or step_id in self._confirming

    async def cancel(self) -> bool:
        """Stop the run in progress; true once ``agent.interrupted`` arrived, false if there was none."""
        self._check_usable()
        if not self.busy:
            return False
        reply = await self._request(UserEvents.CANCEL, {}, lambda e: e.name == AgentEvents.INTERRUPTED, consume=False)
        return reply is not None

    async def export_state(self) -> dict[str, Any]:
        """Ask for the session's signed state (kept in :attr:`signed_state` and the client's state store)."""
        self._check_usable()
        reply = await self._request(UserEvents.REQUEST_STATE, {}, lambda e: e.name == AgentEvents.STATE_EXPORTED)
        state = reply.metadata.get("signed_state") if reply is not None else None
        if not isinstance(state, dict):
            raise ClientProtocolError(ErrorCodes.INTERNAL_ERROR, "agent.state_exported carried no signed_state")
        self.signed_state = state
        await self._client._save_state(self.session_id, state)
        return state

    async def close(self) -> None:
        """End the session on the server (an unknown session counts as closed)."""
        if self.closed:
            return
        await self._request(UserEvents.CLOSE_SESSION, {}, lambda e: e.name == AgentEvents.SESSION_END)
        self._mark_closed("closed")

    async def cancel_task(self, task_id: str | int) -> bool:
        """Plan & Solve: cancel one task; true if the server did (the others go on)."""
        return await self._control(UserEvents.CANCEL_TASK, {"task_id": task_id})

    async def restart_task(self, task_id: str | int) -> bool:
        """Plan & Solve: run one task again; when the session was idle, read that run with ``follow()``."""
        return await self._control(UserEvents.RESTART_TASK, {"task_id": task_id})

    async def cancel_plan(self) -> bool:
        """Plan & Solve: cancel planning or a plan awaiting confirmation."""
        return await self._control(UserEvents.CANCEL_PLAN, None)

    async def replan(self, question: str | None = None) -> bool:
        """Plan & Solve: plan again (optionally for a new question); when idle, read that run with ``follow()``."""
        return await self._control(UserEvents.REPLAN, {"question": question} if question is not None else None)

    async def _control(self, event: str, content: dict[str, Any] | None) -> bool:
        """A Plan & Solve control: the server acknowledges it with ``system.notice`` ``{action, ok}``."""
        self._check_usable()
        reply = await self._request(event, {} if content is None else {"content": content}, _never)
        return bool(reply is not None and reply.metadata.get("ok"))

    def _check_usable(self) -> None:
        self._client._check_usable()
        if self._closed_error is not None:
            raise self._closed_error

    async def _request(
        self, event: str, fields: Mapping[str, Any], match: Callable[[Event], bool], *, consume: bool = True
    ) -> Event | None:
        frame = {"event": event, "session_id": self.session_id, **fields}
        waiter = _Waiter(event, frame, match, consume, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            waiter.generation = await self._client._send(frame, self)
            reply: Event | None = await self._client._await_reply(waiter.future)
            return reply
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def _reattach(self, link: Link) -> None:
        """Re-attach on ``link`` with ``user.reconnect``; restore from a signed state if the session is gone.

        Raises:
            ClientProtocolError: the server refused and no signed state allows a restore.
        """
        if not self._needs_restore:
            position: dict[str, Any] = {"resume_token": self.resume_token}
            position.update({"last_event_id": self.last_event_id} if self.last_seq else {"last_seq": 0})
            frame = {"event": UserEvents.RECONNECT, "session_id": self.session_id, **position}
            waiter = _Waiter(UserEvents.RECONNECT, frame, _never, True, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            try:
                await self._client._send_on(link, frame)
                await self._client._await_on_link(waiter.future, link)
                self._acked_seq = 0  # acknowledge again on this connection
                return
            except ClientProtocolError as exc:
                if exc.code != ErrorCodes.SESSION_NOT_FOUND:
                    raise
                state = await self._restorable_state()
                if state is None:
                    raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        else:
            state = await self._restorable_state()
            if state is None:
                raise SessionClosedError(f"session {self.session_id} ended and no signed state is kept", "shutdown")
        await self._client._restore_into(self, state, link)

    async def _restorable_state(self) -> dict[str, Any] | None:
        return self.signed_state or await self._client._load_state(self.session_id)

    # -- what the reader feeds in (synchronous, in arrival order) -----------------------------

    def _receive_event(self, event: Event, *, consumed: bool = False) -> None:
        if event.seq is not None:
            if event.seq <= self.last_seq:
                self.duplicates_dropped += 1
                return
            self.last_seq = event.seq
            self._client._want_ack()
        if not consumed:
            consumed = self._resolve_waiter(event)
        if not consumed:
            self._deliver(event)
        if event.name == AgentEvents.SESSION_END:
            self._on_session_end(event)
        self._check_replay_done()

    def _deliver(self, event: Event) -> None:
        confirm = self._own.confirm if self._own is not None else None
        self._inbox.put_nowait(InboxItem(event=event, ends=self._run_ended_by(event)))
        if event.name == AgentEvents.FINAL_ANSWER:
            self._client._after_final_answer(self)
        elif event.name == AgentEvents.USER_CONFIRM:
            self._on_confirm_request(event, confirm)

    def _run_ended_by(self, event: Event) -> int | None:
        """Which run ``event`` belongs to and whether it ends it: the own run's stream id, FOREIGN or None."""
        if not is_run_event(event):
            return None
        own = self._own
        if own is not None and not own.started and not self._foreign and event.seq and event.seq > own.mark:
            own.started, self._soft_ended = True, False
        mine = own is not None and own.started
        if not mine:
            self._foreign = True
        self._track.note(event)
        if not (event.is_final or self._track.ends_run(event, own.tasks if mine and own else None)):
            return None
        self._soft_ended, self._busy_retries = not event.is_final, 0
        self._track.reset()
        if mine and own is not None:
            self._own = None
            return own.stream
        self._foreign = False
        return FOREIGN

    def _resolve_waiter(self, event: Event) -> bool:
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.match(event):
                self._waiters.remove(waiter)
                waiter.future.set_result(event)
                return waiter.consume
        return False

    def _receive_error(self, event: Event) -> None:
        gap = event.gap_range
        if event.is_replay_gap:
            if gap is not None:
                self.replay_gaps.append(gap)
                self.last_seq = max(self.last_seq, gap[1])  # those events are gone for good
            self._inbox.put_nowait(InboxItem(event=event))
            return
        request = event.metadata.get("request_event")
        error = ClientProtocolError.from_event(event)
        own = self._own
        if own is not None and not own.started and request == own.request:
            if error.code == ErrorCodes.SESSION_BUSY and self._soft_ended and self._busy_retries < _BUSY_RETRIES:
                # The previous run ended without a closing event (direct task mode), so the server
                # may still be winding it up: ask again shortly rather than fail.
                delay = _BUSY_RETRY_DELAY * 2**self._busy_retries
                self._busy_retries += 1
                self._client._spawn(self._resend(own, delay=delay))
                return
            self._end_own(error)
            return
        waiter = next((w for w in self._waiters if w.request == request and not w.future.done()), None)
        if waiter is not None:
            self._waiters.remove(waiter)
            if (request, error.code) in (
                (UserEvents.CANCEL, ErrorCodes.NO_ACTIVE_RUN),
                (UserEvents.CLOSE_SESSION, ErrorCodes.SESSION_NOT_FOUND),
            ):
                waiter.future.set_result(None)
            else:
                waiter.future.set_exception(error)
            return
        if request == UserEvents.ACK:
            logger.debug("session %s: acknowledgement refused: %s", self.session_id, error)
            return
        self._inbox.put_nowait(InboxItem(event=event))  # about a frame sent without waiting (a confirmation)

    def _receive_notice(self, event: Event) -> None:
        action = event.metadata.get("action")
        request = f"user.{action}"
        if action == NoticeActions.RECONNECT or request in _CONTROLS:
            waiter = next((w for w in self._waiters if w.request == request and not w.future.done()), None)
            if waiter is not None:
                self._waiters.remove(waiter)
                waiter.future.set_result(event)
            if request in (UserEvents.RESTART_TASK, UserEvents.REPLAN) and event.metadata.get("ok") and not self.busy:
                self._foreign = True  # the server starts a run for it right after this notice
            if waiter is not None and request in _CONTROLS:
                return
        if action == NoticeActions.RECONNECT:
            token = event.metadata.get("resume_token")
            if isinstance(token, str) and token:
                self.resume_token = token  # each reconnect spends the token and hands out the next one
            target = event.metadata.get("last_seq")
            self._resume_target = (target if isinstance(target, int) else 0, bool(event.metadata.get("busy")))
            self._replayed.clear()
        self._inbox.put_nowait(InboxItem(event=event))
        if action == NoticeActions.SESSION_TAKEN_OVER:
            error = SessionTakenOverError(f"session {self.session_id} was resumed by another connection", "taken_over")
            self._mark_closed("taken_over", error)
        self._check_replay_done()

    def _expects(self, request: Any) -> bool:
        own = self._own
        waiting = own is not None and not own.started and own.request == request
        return waiting or any(w.request == request for w in self._waiters)

    # -- state changes ------------------------------------------------------------------------

    def _check_replay_done(self) -> None:
        """After a resume, once the replay is in: re-send what the dropped connection may have swallowed."""
        if self._resume_target is None or self.last_seq < self._resume_target[0]:
            return
        busy = self._resume_target[1]
        self._resume_target = None
        self._replayed.set()
        generation = self._client._generation
        own = self._own
        if own is None:
            self._foreign = busy  # whatever we believed, the server knows
        elif not own.started and 0 < own.generation < generation and not busy:  # 0: still in the outbox
            self._client._spawn(self._resend(own))
        elif own.started and not busy:
            self._end_own(RunLostError("the run ended while disconnected and its last events were not retained"))
        for waiter in list(self._waiters):
            if not 0 < waiter.generation < generation or waiter.request == UserEvents.RECONNECT:
                continue
            if waiter.request == UserEvents.CANCEL and not busy:
                self._waiters.remove(waiter)
                waiter.future.set_result(None)
            else:
                self._client._spawn(self._resend(waiter))

    async def _resend(self, request: _Waiter | OwnRun, *, delay: float = 0) -> None:
        if delay:
            await asyncio.sleep(delay)
        if isinstance(request, OwnRun) and request is not self._own:
            return
        request.generation = await self._client._send(request.frame, self)

    def _on_session_end(self, event: Event) -> None:
        reason = str(event.metadata.get("reason") or "closed")
        if reason == "shutdown" and self._client._can_restore(self):
            self._needs_restore = True  # restore from the signed state once the server is back
            return
        self._mark_closed(reason)

    def _restored(self, event: Event, *, deliver: bool) -> None:
        """``agent.state_restored``: this object now stands for the (possibly new) session it names."""
        own = self._own
        lost = own is not None and (own.started or own.generation > 0)  # a message still queued goes on
        if event.session_id and event.session_id != self.session_id:
            self.session_id, self.last_seq, self._acked_seq = event.session_id, 0, 0
            self._resume_target, self._foreign = None, False
            self._replayed.set()
            self._track.reset()
            self._answers.clear()
            self._fail_waiters(ClientProtocolError(ErrorCodes.SESSION_NOT_FOUND, "the session was restored"))
        token = event.metadata.get("resume_token")
        if isinstance(token, str):
            self.resume_token = token
        self._needs_restore = False
        self._receive_event(event, consumed=not deliver)
        if lost and not event.metadata.get("reattached"):
            self._end_own(RunLostError("the session expired during the run and was restored; ask again"))
        elif own is not None and own is self._own:
            own.mark = self.last_seq
        if event.metadata.get("pending_calls"):
            self._foreign = True  # the restore re-runs unfinished tool calls

    def _end_own(self, error: ClientError) -> None:
        own, self._own = self._own, None
        if own is not None:
            self._inbox.put_nowait(InboxItem(error=error, ends=own.stream))

    def _fail_run(self, error: ClientError) -> None:
        self._end_own(error)
        if self._foreign:
            self._foreign = False
            self._inbox.put_nowait(InboxItem(error=error, ends=FOREIGN))

    def _fail_waiters(self, error: ClientError) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.future.done():
                continue
            if waiter.request in (UserEvents.CANCEL, UserEvents.CLOSE_SESSION):
                waiter.future.set_result(None)
            else:
                waiter.future.set_exception(error)

    def _mark_closed(self, reason: str, error: ClientError | None = None) -> None:
        if self.closed:
            return
        self.closed_reason = reason
        self._closed_error = error or SessionClosedError(f"session {self.session_id} has ended ({reason})", reason)
        self._fail_run(self._closed_error)
        self._fail_waiters(self._closed_error)
        self._replayed.set()
        self._client._forget(self)

    def _connection_failed(self, error: ClientError) -> None:
        self._fail_run(error)
        self._fail_waiters(error)
        self._replayed.set()

    # -- confirmations ------------------------------------------------------------------------

    def _on_confirm_request(self, event: Event, override: Callable[..., Any] | None) -> None:
        request = event.confirm_request()
        if request is None:
            return
        known = self._answers.get(request.step_id)
        if known is not None:
            answer, generation = known
            # Re-announced after a resume: our answer was lost with the old connection.
            if generation is not None and generation < self._client._generation:
                self._client._spawn(self._send_answer(request.step_id, answer))
            return
        handler = override or self._client.confirm
        if handler is not None and request.step_id not in self._confirming:
            self._confirming.add(request.step_id)
            self._client._spawn(self._auto_confirm(handler, request))

    async def _auto_confirm(self, handler: ConfirmCallback, request: ConfirmRequest) -> None:
        try:
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
            answer = result if isinstance(result, ConfirmAnswer) else ConfirmAnswer(bool(result))
        except Exception:  # the application's callback: refuse rather than leave the run waiting
            logger.exception("session %s: confirmation callback failed; refusing %s", self.session_id, request.step_id)
            answer = ConfirmAnswer(False, "the client's confirmation callback failed")
        finally:
            self._confirming.discard(request.step_id)
        if not self.closed and request.step_id not in self._answers:
            self._remember_answer(request.step_id, answer, None)
            await self._send_answer(request.step_id, answer)

    def _remember_answer(self, step_id: str, answer: ConfirmAnswer, generation: int | None) -> None:
        self._answers[step_id] = (answer, generation)
        while len(self._answers) > _MAX_ANSWERS:
            del self._answers[next(iter(self._answers))]

    async def _send_answer(self, step_id: str, answer: ConfirmAnswer) -> None:
        content: dict[str, Any] = {"confirmed": answer.confirmed}
        if answer.message is not None:
            content["message"] = answer.message
        if answer.tasks is not None:
            content["tasks"] = answer.tasks
        frame = {"event": UserEvents.RESPONSE, "session_id": self.session_id, "step_id": step_id, "content": content}
        generation = await self._client._send(frame, self)
        if step_id in self._answers:
            self._answers[step_id] = (answer, generation)

    async def _auto_export(self) -> None:
        try:
            await self.export_state()
        except ClientError as exc:
            logger.info("session %s: automatic state export failed: %s", self.session_id, exc)


def _never(event: Event) -> bool:
    return False


def _answer_of(event: Event) -> str:
    if event.name == AgentEvents.FINAL_ANSWER:
        return event.text
    if event.name == AgentEvents.ERROR:
        raise RunFailedError(event.error_code or ErrorCodes.RUN_FAILED, event.text, event)
    if event.name == AgentEvents.INTERRUPTED:
        raise RunInterruptedError(str(event.metadata.get("reason") or "user_cancel"), event)
    raise RunLostError(f"the run ended with {event.name}, without an answer")

"""``POST /agui``: run any myagent agent for an AG-UI client, streaming AG-UI events over SSE."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from myagent.agent.events import FinalAnswer, RunFailed
from myagent.agent.session_agent import SessionAgent
from myagent.agui.events import encode
from myagent.agui.input import InputError, RunInput, parse_run_input, seed_messages, user_text
from myagent.agui.threads import AGUIThread, Interrupted, RunEnded, ThreadStore
from myagent.agui.translate import RunTranslator
from myagent.errors import ConfigError
from myagent.telemetry import continue_trace
from myagent.tool import lifecycle

__all__ = ["AGUIEndpoint"]

logger = logging.getLogger(__name__)

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Refused(Exception):
    """A request that cannot start or resume a run: answered with ``status`` and a JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class AGUIEndpoint:
    """The AG-UI endpoint for agents from ``agent_factory`` (one agent per ``threadId``).

    Mount ``endpoint.handle`` as a ``POST`` route; ``create_app`` does that at ``/agui``.

    Args:
        agent_factory: returns a new agent (sync or async), like the WebSocket server's factory.
        confirm_timeout: seconds an interrupt (a tool confirmation) stays answerable.
        max_body_bytes: largest accepted request body (HTTP 413 beyond).
        max_threads: threads kept in memory; the least recently used idle ones are dropped.
    """

    def __init__(
        self,
        agent_factory: Callable[[], Any],
        *,
        confirm_timeout: float = 300.0,
        max_body_bytes: int = 4 << 20,
        max_threads: int = 1000,
    ) -> None:
        self.agent_factory = agent_factory
        self.confirm_timeout = confirm_timeout
        self.max_body_bytes = max_body_bytes
        self.threads = ThreadStore(max_threads=max_threads)
        lifecycle.keep_until_shutdown(self)

    async def handle(self, request: Request) -> Response:
        try:
            run = parse_run_input(await self._body(request))
            thread = await self._prepare(run, request.headers)
        except InputError as exc:
            return _error(400, "INVALID_INPUT", str(exc))
        except _Refused as exc:
            return _error(exc.status, exc.code, exc.message)
        except ClientDisconnect:
            return Response(status_code=400)
        thread.serving = True
        translator = RunTranslator(run.threadId, run.runId)
        return StreamingResponse(self._stream(thread, translator), media_type="text/event-stream", headers=_SSE_HEADERS)

    async def aclose(self) -> None:
        """End every thread's run and free its agent (called at server shutdown)."""
        for thread in self.threads:
            await thread.close()

    # -- request --------------------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _Refused(413, "BODY_TOO_LARGE", f"the body is larger than {self.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refused(413, "BODY_TOO_LARGE", f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _prepare(self, run: RunInput, headers: Mapping[str, str]) -> AGUIThread:
        thread = self.threads.get(run.threadId)
        if thread is not None and thread.serving:
            raise _Refused(409, "THREAD_BUSY", "another request is streaming this thread")
        if run.resume:
            return self._resume(thread, run)
        if thread is not None and thread.running:
            if thread.pending:
                waiting = ", ".join(thread.pending)
                raise _Refused(409, "INTERRUPT_PENDING", f"answer the pending interrupts with resume: {waiting}")
            raise _Refused(409, "THREAD_BUSY", "a run is already active in this thread")
        question = user_text(run)
        if not question or not question.strip():
            raise InputError("the last message must be a non-empty user message")
        if thread is None:
            thread = await self._new_thread(run)
        with continue_trace(headers):  # a W3C traceparent header continues the client's trace (tracing on)
            thread.start(question)
        return thread

    def _resume(self, thread: AGUIThread | None, run: RunInput) -> AGUIThread:
        if thread is None or not thread.running:
            raise _Refused(409, "NOTHING_TO_RESUME", "this thread has no paused run")
        assert run.resume is not None
        unknown = [entry.interruptId for entry in run.resume if entry.interruptId not in thread.pending]
        if unknown:
            raise _Refused(409, "UNKNOWN_INTERRUPT", f"no pending interrupt {', '.join(unknown)} (answered or expired)")
        for entry in run.resume:
            thread.answer(entry.interruptId, entry.status, entry.payload)
        return thread

    async def _new_thread(self, run: RunInput) -> AGUIThread:
        agent = self.agent_factory()
        if inspect.isawaitable(agent):
            agent = await agent
        if not isinstance(agent, SessionAgent):
            raise ConfigError(f"the agent factory returned {type(agent).__name__}, not an agent")
        if not agent.memory:
            agent.memory.extend(seed_messages(run))  # a thread this server has not seen: its history so far
        thread = AGUIThread(run.threadId, agent, self.confirm_timeout)
        for evicted in self.threads.add(thread):
            await evicted.close()
        return thread

    # -- response -------------------------------------------------------------------------------

    async def _stream(self, thread: AGUIThread, translator: RunTranslator) -> AsyncIterator[bytes]:
        paused = False
        try:
            for item in translator.start():
                yield encode(item)
            async for queued in thread.items():
                if isinstance(queued, Interrupted):
                    interrupts = self._announce(thread, queued)
                    if not interrupts:
                        continue  # it expired before anyone saw it
                    for item in translator.interrupted(interrupts):
                        yield encode(item)
                    paused = True
                    return
                if isinstance(queued, RunEnded):
                    closing = translator.fail(f"{type(queued.error).__name__}: {queued.error}", "RUN_FAILED")
                    for item in closing if queued.error is not None else translator.cancelled():
                        yield encode(item)
                    return
                for item in translator.translate(queued):
                    yield encode(item)
                if isinstance(queued, FinalAnswer | RunFailed) and thread.run is not None:
                    await asyncio.gather(thread.run, return_exceptions=True)  # the next request finds it idle
                    return
        finally:
            thread.serving = False
            if not paused and thread.running and thread.run is not None:
                # The client went away mid-run (AG-UI's abortRun): stop the run, as user.cancel would.
                thread.run.cancel()

    @staticmethod
    def _announce(thread: AGUIThread, first: Interrupted) -> list[dict[str, Any]]:
        """``first`` and every interrupt queued right behind it that is still pending."""
        batch = [first, *thread.take_interrupts()]
        interrupts = [item.interrupt for item in batch if item.interrupt["id"] in thread.pending]
        thread.announced.update(interrupt["id"] for interrupt in interrupts)
        return interrupts


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

"""A real local HTTP server that imitates the OpenAI chat-completions endpoint.

Tests talk to it through the real ``openai`` SDK (or any HTTP client), so the whole path —
request encoding, SSE parsing, HTTP status handling, retries, connection errors — is exercised
rather than mocked. It runs ``http.server.ThreadingHTTPServer`` in a background thread, so it
works the same from synchronous and asynchronous tests.

Usage::

    with FakeOpenAIServer() as srv:
        srv.add_error(429, headers={"Retry-After": "0"})
        srv.add_text("Hello world", chunks=3, usage=(12, 3))
        model = OpenAICompatibleModel(model="fake-model", base_url=srv.url)
        ...
        assert srv.requests[0]["stream"] is True

Each ``POST /v1/chat/completions`` consumes the next scripted reply (first in, first out). When
the script is empty the server answers HTTP 500 and counts the request in :attr:`unexpected`;
leaving the ``with`` block (or the ``fake_openai`` fixture) then fails the test, unless
:attr:`fail_on_unexpected` was set to false.

Streaming replies (``"stream": true`` in the request body) are sent as Server-Sent Events with
chunked transfer encoding: ``data: {chunk}\\n\\n`` ... ``data: [DONE]\\n\\n``. Like the real API,
the usage chunk (``"choices": []`` plus ``"usage"``) is sent only when the request asked for it
with ``stream_options.include_usage``. :meth:`add_text` and :meth:`add_tool_calls` answer a
non-streaming request with the equivalent ``chat.completion`` JSON instead.

Timing controls for streaming replies (keyword arguments of every ``add_*`` that streams):

* ``hold_after=N`` — after the first N events, block until :meth:`FakeReply.release` is called
  (or the server stops). Together with :meth:`FakeReply.await_first_chunk` this lets a test
  cancel a consumer mid-stream without sleeping.
* ``disconnect_after=N`` — after N events, drop the TCP connection without finishing the body.
* ``delay=seconds`` — pause between events (for manual experiments; never synchronise on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeOpenAIServer", "FakeReply", "ReceivedRequest"]

logger = logging.getLogger(__name__)

_CHAT_PATH = "/v1/chat/completions"
_MODELS_PATH = "/v1/models"
_DEFAULT_HOLD_TIMEOUT = 30.0


@dataclass
class ReceivedRequest:
    """One HTTP request the fake received (``body`` is the decoded JSON, or None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeReply:
    """One scripted reply; returned by the ``add_*`` methods so tests can observe and steer it.

    Attributes:
        request: the JSON body of the request that consumed this reply (None until then).
        events_sent: how many SSE events have been written so far.
        client_disconnected: writing failed because the client went away.
        finished: set when the server is done with this reply (sent, dropped or failed).
    """

    def __init__(
        self,
        kind: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        payloads: Sequence[Any] = (),
        usage: tuple[int, int] | None = None,
        completion: dict[str, Any] | None = None,
        done: bool = True,
        hold_after: int | None = None,
        disconnect_after: int | None = None,
        delay: float = 0.0,
    ) -> None:
        self.kind = kind
        self.status = status
        self.headers = dict(headers or {})
        self.body = body
        self.payloads = list(payloads)
        self.usage = usage
        self.completion = completion
        self.done = done
        self.hold_after = hold_after
        self.disconnect_after = disconnect_after
        self.delay = delay
        self.request: Any = None
        self.events_sent = 0
        self.client_disconnected = False
        self.first_chunk_sent = threading.Event()
        self.finished = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        """Let a reply blocked by ``hold_after`` continue."""
        self._released.set()

    def wait_first_chunk(self, seconds: float = 10.0) -> None:
        """Block until the first SSE event was written (sync tests)."""
        if not self.first_chunk_sent.wait(seconds):
            raise AssertionError(f"fake server did not send a first chunk within {seconds}s")

    async def await_first_chunk(self, seconds: float = 10.0) -> None:
        """Wait until the first SSE event was written, without blocking the event loop."""
        if not await asyncio.to_thread(self.first_chunk_sent.wait, seconds):
            raise AssertionError(f"fake server did not send a first chunk within {seconds}s")

    def wait_finished(self, seconds: float = 10.0) -> None:
        """Block until the server is done with this reply."""
        if not self.finished.wait(seconds):
            raise AssertionError(f"fake server did not finish its reply within {seconds}s")

    async def await_finished(self, seconds: float = 10.0) -> None:
        """Wait until the server is done with this reply, without blocking the event loop."""
        if not await asyncio.to_thread(self.finished.wait, seconds):
            raise AssertionError(f"fake server did not finish its reply within {seconds}s")


class FakeOpenAIServer:
    """Scriptable imitation of ``POST /v1/chat/completions`` on 127.0.0.1 (random free port).

    Also answers ``GET /v1/models`` with a one-model list. Any other path gets a 404 and counts
    as unexpected.
    """

    def __init__(self, *, model: str = "fake-model", hold_timeout: float = _DEFAULT_HOLD_TIMEOUT) -> None:
        self.model = model
        self.hold_timeout = hold_timeout
        #: JSON bodies of the chat-completion requests, in arrival order.
        self.requests: list[Any] = []
        #: Every request received (any path), with headers.
        self.received: list[ReceivedRequest] = []
        #: Requests that found no scripted reply (or hit an unknown path).
        self.unexpected = 0
        self.unexpected_requests: list[ReceivedRequest] = []
        #: Whether leaving the context manager fails when :attr:`unexpected` is non-zero.
        self.fail_on_unexpected = True
        self._script: deque[FakeReply] = deque()
        self._all_replies: list[FakeReply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for the SDK, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        """Bind a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release every held reply."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        for reply in self._all_replies:
            reply.release()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None and self.fail_on_unexpected:
            self.assert_no_unexpected()

    def assert_no_unexpected(self) -> None:
        """Fail if a request arrived that the script did not provide for."""
        if self.unexpected:
            paths = [f"{r.method} {r.path}" for r in self.unexpected_requests]
            raise AssertionError(f"FakeOpenAIServer got {self.unexpected} unexpected request(s): {paths}")

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._script)

    # -- scripting -------------------------------------------------------------------------

    def add_text(
        self,
        text: str | Sequence[str],
        *,
        chunks: int = 1,
        usage: tuple[int, int] | None = None,
        finish_reason: str = "stop",
        hold_after: int | None = None,
        disconnect_after: int | None = None,
        delay: float = 0.0,
    ) -> FakeReply:
        """Answer with assistant text.

        ``text`` is split into ``chunks`` content deltas of similar length (never empty ones), or
        pass a list of pieces to choose the split yourself. ``usage=(prompt, completion)`` adds
        a usage chunk when the request asks for one; None sends no usage at all.
        """
        pieces = list(text) if not isinstance(text, str) else _split(text, chunks)
        full = "".join(pieces)
        deltas: list[dict[str, Any]] = [{"content": piece} for piece in pieces] or [{"content": ""}]
        return self._add_completion(
            deltas,
            message={"role": "assistant", "content": full},
            finish_reason=finish_reason,
            usage=usage,
            hold_after=hold_after,
            disconnect_after=disconnect_after,
            delay=delay,
        )

    def add_tool_calls(
        self,
        calls: Sequence[tuple[str | None, str | None, str]],
        *,
        text: str = "",
        split_args_into: int = 1,
        interleave: bool = True,
        usage: tuple[int, int] | None = None,
        finish_reason: str = "tool_calls",
        hold_after: int | None = None,
        disconnect_after: int | None = None,
        delay: float = 0.0,
    ) -> FakeReply:
        """Answer with tool calls ``(id, name, arguments_json)``, optionally after some text.

        Streams them like OpenAI: a first delta per call carrying ``index``, ``id`` and
        ``function.name``, then ``function.arguments`` in ``split_args_into`` pieces. With
        ``interleave`` the calls' deltas alternate (call 0, call 1, call 0, ...). ``None`` as id
        or name omits that field, to imitate broken servers. Arguments are sent verbatim, so
        malformed JSON is possible.
        """
        per_call: list[list[dict[str, Any]]] = []
        for index, (call_id, name, arguments) in enumerate(calls):
            function: dict[str, Any] = {"arguments": ""}
            if name is not None:
                function["name"] = name
            first: dict[str, Any] = {"index": index, "type": "function", "function": function}
            if call_id is not None:
                first["id"] = call_id
            events = [first]
            events.extend(
                {"index": index, "function": {"arguments": piece}} for piece in _split(arguments, split_args_into)
            )
            per_call.append(events)
        if interleave:
            ordered = [event for round_ in itertools.zip_longest(*per_call) for event in round_ if event is not None]
        else:
            ordered = [event for events in per_call for event in events]
        deltas: list[dict[str, Any]] = [{"content": text}] if text else []
        deltas.extend({"tool_calls": [event]} for event in ordered)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text or None,
            "tool_calls": [_whole_tool_call(call) for call in calls],
        }
        return self._add_completion(
            deltas,
            message=message,
            finish_reason=finish_reason,
            usage=usage,
            hold_after=hold_after,
            disconnect_after=disconnect_after,
            delay=delay,
        )

    def add_raw_chunks(
        self,
        chunks: Sequence[Mapping[str, Any] | str],
        *,
        done: bool = True,
        hold_after: int | None = None,
        disconnect_after: int | None = None,
        delay: float = 0.0,
    ) -> FakeReply:
        """Stream exactly these SSE data payloads (dicts as JSON, strings verbatim), then ``[DONE]``.

        Sent as a stream even when the request did not ask for one. Use it for odd sequences:
        empty ``choices``, missing fields, invalid JSON, no ``[DONE]`` (``done=False``).
        """
        payloads = [chunk if isinstance(chunk, str) else dict(chunk) for chunk in chunks]
        return self._add(
            FakeReply(
                "raw",
                payloads=payloads,
                done=done,
                hold_after=hold_after,
                disconnect_after=disconnect_after,
                delay=delay,
            )
        )

    def add_error(
        self,
        status: int,
        body: Mapping[str, Any] | str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> FakeReply:
        """Answer with an HTTP error; ``body`` defaults to an OpenAI-style error object."""
        if body is None:
            body = {"error": {"message": f"fake error {status}", "type": "fake_error", "code": None}}
        return self._add(FakeReply("error", status=status, headers=headers, body=body))

    def add_json(
        self,
        body: Mapping[str, Any] | str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> FakeReply:
        """Answer with this exact body (JSON-encoded unless a string), streaming or not."""
        return self._add(FakeReply("json", status=status, headers=headers, body=body))

    def _add_completion(
        self,
        deltas: list[dict[str, Any]],
        *,
        message: dict[str, Any],
        finish_reason: str,
        usage: tuple[int, int] | None,
        hold_after: int | None,
        disconnect_after: int | None,
        delay: float,
    ) -> FakeReply:
        # The role travels with the first delta, as several servers do; keeps ``hold_after=1``
        # meaning "after the first real piece".
        deltas = [dict(delta) for delta in deltas]
        deltas[0] = {"role": "assistant", **deltas[0]}
        payloads: list[Any] = [{"index": 0, "delta": delta, "finish_reason": None} for delta in deltas]
        payloads.append({"index": 0, "delta": {}, "finish_reason": finish_reason})
        completion = {"message": message, "finish_reason": finish_reason}
        return self._add(
            FakeReply(
                "completion",
                payloads=payloads,
                usage=usage,
                completion=completion,
                hold_after=hold_after,
                disconnect_after=disconnect_after,
                delay=delay,
            )
        )

    def _add(self, reply: FakeReply) -> FakeReply:
        with self._lock:
            self._script.append(reply)
            self._all_replies.append(reply)
        return reply

    # -- used by the handler ---------------------------------------------------------------

    def _record(self, request: ReceivedRequest, *, chat: bool) -> FakeReply | None:
        with self._lock:
            self.received.append(request)
            if not chat:
                return None
            self.requests.append(request.body)
            reply = self._script.popleft() if self._script else None
            if reply is None:
                self.unexpected += 1
                self.unexpected_requests.append(request)
            else:
                reply.request = request.body
            return reply

    def _record_unexpected(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.unexpected += 1
            self.unexpected_requests.append(request)

    def _next_id(self) -> str:
        return f"chatcmpl-fake-{next(self._ids)}"


class _ClientGone(Exception):
    """The client closed the connection while we were writing."""


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; ``fake`` is bound per server by :meth:`FakeOpenAIServer.start`."""

    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake openai: " + format, *args)

    # -- routing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        request = self._read_request(body=False)
        if request.path == _MODELS_PATH:
            self.fake._record(request, chat=False)
            self._send_json(200, {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]})
            return
        self._not_found(request)

    def do_POST(self) -> None:
        request = self._read_request(body=True)
        if request.path != _CHAT_PATH:
            self._not_found(request)
            return
        reply = self.fake._record(request, chat=True)
        if reply is None:
            self._send_json(
                500,
                {"error": {"message": "FakeOpenAIServer: no scripted reply left", "type": "fake_unexpected"}},
            )
            return
        try:
            self._serve(reply, request.body if isinstance(request.body, dict) else {})
        except _ClientGone:
            reply.client_disconnected = True
            self.close_connection = True
        finally:
            reply.finished.set()

    def _read_request(self, *, body: bool) -> ReceivedRequest:
        parsed: Any = None
        if body:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0].rstrip("/")
        return ReceivedRequest(self.command, path, dict(self.headers.items()), parsed)

    def _not_found(self, request: ReceivedRequest) -> None:
        self.fake._record_unexpected(request)
        self._send_json(404, {"error": {"message": f"FakeOpenAIServer: no route {request.path}"}})

    # -- replies ---------------------------------------------------------------------------

    def _serve(self, reply: FakeReply, body: dict[str, Any]) -> None:
        if reply.kind in ("error", "json"):
            self._send_json(reply.status, reply.body, reply.headers)
            return
        model = str(body.get("model") or self.fake.model)
        if reply.kind == "completion" and not body.get("stream"):
            self._send_json(200, self._completion_body(reply, model), reply.headers)
            return
        if reply.kind == "raw":
            self._stream(reply, reply.payloads)
            return
        # A "completion" reply stores one choice per event; wrap each into a full chunk.
        payloads: list[Any] = [self._chunk(model, [choice]) for choice in reply.payloads]
        stream_options = body.get("stream_options") or {}
        if reply.usage is not None and stream_options.get("include_usage"):
            payloads.append(self._chunk(model, [], usage=reply.usage))
        self._stream(reply, payloads)

    def _stream(self, reply: FakeReply, payloads: list[Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self._flush()
        for payload in payloads:
            if reply.disconnect_after is not None and reply.events_sent >= reply.disconnect_after:
                self._drop_connection()
                return
            if reply.hold_after is not None and reply.events_sent >= reply.hold_after:
                self._hold(reply)
            if reply.delay and reply.events_sent:
                time.sleep(reply.delay)
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            self._write_chunk(f"data: {data}\n\n".encode())
            reply.events_sent += 1
            reply.first_chunk_sent.set()
        if reply.disconnect_after is not None and reply.events_sent >= reply.disconnect_after:
            self._drop_connection()
            return
        if reply.done:
            self._write_chunk(b"data: [DONE]\n\n")
        self._write_raw(b"0\r\n\r\n")

    def _hold(self, reply: FakeReply) -> None:
        if not reply._released.is_set():
            reply._released.wait(self.fake.hold_timeout)
        if self.fake._stopping.is_set():
            raise _ClientGone

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _chunk(self, model: str, choices: list[Any], *, usage: tuple[int, int] | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.fake._next_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = _usage(usage)
        return chunk

    def _completion_body(self, reply: FakeReply, model: str) -> dict[str, Any]:
        assert reply.completion is not None
        body: dict[str, Any] = {
            "id": self.fake._next_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, **reply.completion}],
        }
        if reply.usage is not None:
            body["usage"] = _usage(reply.usage)
        return body

    # -- low-level writing -----------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc

    def _write_chunk(self, data: bytes) -> None:
        self._write_raw(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _write_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc

    def _flush(self) -> None:
        try:
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    prompt, completion = usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _whole_tool_call(call: tuple[str | None, str | None, str]) -> dict[str, Any]:
    call_id, name, arguments = call
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    whole: dict[str, Any] = {"type": "function", "function": function}
    if call_id is not None:
        whole["id"] = call_id
    return whole


def _split(text: str, parts: int) -> list[str]:
    """Split ``text`` into at most ``parts`` non-empty pieces of similar length."""
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    pieces: list[str] = []
    start = 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces

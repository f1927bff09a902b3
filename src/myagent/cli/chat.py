"""``myagent chat URL``: talk to a myagent server from the terminal.

Streams the answer as it arrives, shows tool calls and results one line each, asks before a tool
that needs confirmation, and survives a dropped connection (the SDK resumes the session).
Ctrl-C cancels the run in progress; a second Ctrl-C (or one while idle after a hint) quits.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from myagent.client import (
    AgentClient,
    ClientError,
    ClientProtocolError,
    ConfirmRequest,
    Event,
    RunStream,
    Session,
)
from myagent.client.state_store import write_json_atomically
from myagent.protocol.names import AgentEvents, SolverEvents, SystemEvents

__all__ = ["add_chat_arguments", "main", "run_chat"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Tool-result statuses of calls that did not run because a confirmation was refused or expired.
_REFUSED_STATUSES = frozenset({"refused", "expired"})
RESULT_WIDTH = 80
T = TypeVar("T")


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the server, e.g. ws://localhost:8080")
    parser.add_argument("--auto-confirm", action="store_true", help="approve every tool confirmation automatically")
    parser.add_argument(
        "--solve-tasks", metavar="FILE.json", help="send these Plan & Solve tasks (a list, or {tasks, question})"
    )
    parser.add_argument(
        "--cancel-after", type=float, metavar="SECONDS", help="cancel each run this many seconds after sending it"
    )
    parser.add_argument(
        "--session-file",
        metavar="PATH",
        help="restore the conversation from PATH if it exists; save its signed state there after each answer",
    )
    parser.add_argument("--json", action="store_true", help="print every event as one JSON line (for scripts)")
    parser.add_argument(
        "--message",
        action="append",
        default=[],
        metavar="TEXT",
        help="send TEXT (repeatable), print the answers and exit instead of chatting interactively; "
        "exit code 1 when a run fails or a confirmation is refused (end of input refuses at once)",
    )


def run_chat(args: argparse.Namespace) -> int:
    try:
        out = JsonOutput() if args.json else RichOutput()
    except ImportError:
        print("myagent chat needs the `rich` package: pip install 'myagent[chat]' (or use --json)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(ChatApp(args, out).run())
    except BrokenPipeError:  # whoever read our output went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m myagent.cli.chat", description="Chat with a myagent server.")
    add_chat_arguments(parser)
    return run_chat(parser.parse_args(argv))


# -- output -------------------------------------------------------------------------------------


class Output(Protocol):
    def event(self, event: Event) -> None: ...

    def info(self, text: str) -> None: ...

    def error(self, text: str) -> None: ...

    def prompt(self, text: str) -> None: ...


class JsonOutput:
    """Every event as one JSON line on stdout; everything meant for a person goes to stderr."""

    def event(self, event: Event) -> None:
        print(json.dumps(dict(event.raw), ensure_ascii=False), flush=True)

    def info(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        print(f"error: {text}", file=sys.stderr, flush=True)

    def prompt(self, text: str) -> None:
        print(text, end="", file=sys.stderr, flush=True)


class RichOutput:
    """Human-readable output with ``rich``: the answer streams, every other event takes one line."""

    def __init__(self) -> None:
        from rich.console import Console  # optional dependency (extra "chat")
        from rich.text import Text

        self._text = Text
        self.console = Console(highlight=False, soft_wrap=True, emoji=False)
        self._streamed = ""  # answer text printed on the current line

    def event(self, event: Event) -> None:
        if event.origin is not None and event.name in (AgentEvents.PARTIAL_ANSWER, AgentEvents.THINKING):
            return  # parallel sub-agents would interleave; their results show in the solver lines
        if event.name == AgentEvents.PARTIAL_ANSWER:
            self.console.print(event.text, end="", markup=False)
            self._streamed += event.text
            return
        if event.name == AgentEvents.FINAL_ANSWER:
            if event.text and event.text != self._streamed:
                self._end_answer()
                self.console.print(event.text, markup=False)
            self._end_answer()
            return
        line = self._line_for(event)
        if line is not None:
            self._end_answer()
            if event.origin is not None and event.task_id is not None:
                line = self._text.assemble((f"[task {event.task_id}] ", "dim"), line)
            self.console.print(line)

    def info(self, text: str) -> None:
        self._end_answer()
        self.console.print(self._text(text, style="dim"))

    def error(self, text: str) -> None:
        self._end_answer()
        self.console.print(self._text(f"error: {text}", style="bold red"))

    def prompt(self, text: str) -> None:
        self._end_answer()
        self.console.print(self._text(text, style="cyan"), end="")

    def _end_answer(self) -> None:
        if self._streamed:
            self.console.print()
            self._streamed = ""

    def _line_for(self, event: Event) -> Any:
        text = self._text
        call, result, ask = event.tool_call(), event.tool_result(), event.confirm_request()
        if call is not None:
            args = _truncate(_brief_json(call.args), 2 * RESULT_WIDTH)
            return text.assemble(("→ ", "blue"), (call.name, "bold blue"), " ", (args, "blue"))
        if result is not None:
            mark, style = ("✓", "green") if result.ok else ("✗", "red")
            took = f" ({result.duration_ms:.0f} ms)" if result.duration_ms is not None else ""
            summary = f" {result.status}: {_truncate(result.output)}{took}"
            return text.assemble((f"{mark} ", style), (result.name, f"bold {style}"), summary)
        if ask is not None:
            return text.assemble(
                ("? ", "bold yellow"),
                (ask.tool_name, "bold yellow"),
                " ",
                (_brief_json(ask.tool_args), "yellow"),
                (f" — {ask.tool_description}" if ask.tool_description else "", "dim"),
            )
        if event.name == AgentEvents.INTERRUPTED:
            return text(f"interrupted ({event.metadata.get('reason', 'user_cancel')})", style="bold yellow")
        if event.name == AgentEvents.ERROR and not event.is_request_error:
            return text(f"run failed [{event.error_code}]: {event.text}", style="bold red")
        if event.is_request_error:
            if event.is_replay_gap:
                return text(f"warning: events {event.gap_range} are lost (no longer retained)", style="bold red")
            return text(f"server error [{event.error_code}]: {event.text}", style="red")
        if event.name == SystemEvents.NOTICE:
            return text(f"[{event.metadata.get('action')}] {event.text}", style="dim")
        if event.name in (AgentEvents.SESSION_CREATED, AgentEvents.STATE_RESTORED, AgentEvents.SESSION_END):
            return text(f"{event.text} ({event.session_id})", style="dim")
        if event.family in ("plan", "solver", "aggregate", "pipeline"):
            return _pipeline_line(event, text)
        return None


def _pipeline_line(event: Event, text: Any) -> Any:
    styles = {
        SolverEvents.START: ("▶", "cyan"),
        SolverEvents.COMPLETED: ("✓", "green"),
        SolverEvents.FAILED: ("✗", "red"),
        SolverEvents.CANCELLED: ("■", "yellow"),
        SolverEvents.RESTARTED: ("↻", "cyan"),
    }
    mark, style = styles.get(event.name, ("•", "magenta"))
    task = f" task {event.task_id}" if event.task_id is not None else ""
    return text(f"{mark} {event.name}{task} {_pipeline_summary(event)}".rstrip(), style=style)


def _pipeline_summary(event: Event) -> str:
    """The gist of a Plan & Solve event: a task's title and result, a plan's size, else its text."""
    content = event.content
    if not isinstance(content, dict):
        return _truncate(event.text)
    task, result = content.get("task"), content.get("result")
    parts = []
    if isinstance(task, dict) and task.get("title"):
        parts.append(str(task["title"]))
    if isinstance(result, dict) and (result.get("summary") or result.get("output")):
        parts.append(str(result.get("summary") or result.get("output")))
    if content.get("error"):
        parts.append(str(content["error"]))
    if isinstance(content.get("tasks"), list):
        parts.append(f"{len(content['tasks'])} tasks")
    return _truncate(": ".join(parts)) if parts else _truncate(event.text)


def _brief_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _truncate(text: str, width: int = RESULT_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# -- input --------------------------------------------------------------------------------------


class LineReader:
    """Lines from stdin without blocking the event loop (so that Ctrl-C and the stream go on)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._fd: int | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            fd = self._stream.fileno()
            loop.add_reader(fd, self._readable, fd)
            self._fd = fd
        except (OSError, ValueError, NotImplementedError):  # e.g. a regular file: read it in a thread
            threading.Thread(target=self._read_blocking, args=(loop,), daemon=True).start()

    def close(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None

    async def readline(self) -> str | None:
        """The next line without its newline; ``None`` at end of input."""
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)  # stay at EOF for later readers
        return line

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            self._feed(self._decoder.decode(b"", final=True), eof=True)
            return
        self._feed(self._decoder.decode(data))

    def _feed(self, text: str, *, eof: bool = False) -> None:
        self._buffer += text
        while "\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition("\n")
            self._lines.put_nowait(line.rstrip("\r"))
        if eof:
            if self._buffer:
                self._lines.put_nowait(self._buffer)
                self._buffer = ""
            self._lines.put_nowait(None)

    def _read_blocking(self, loop: asyncio.AbstractEventLoop) -> None:
        for line in self._stream:
            loop.call_soon_threadsafe(self._feed, line if line.endswith("\n") else line + "\n")
        loop.call_soon_threadsafe(functools.partial(self._feed, "", eof=True))


# -- the chat -----------------------------------------------------------------------------------


class ChatApp:
    def __init__(self, args: argparse.Namespace, out: Output) -> None:
        self.args = args
        self.out = out
        self.session_file = Path(args.session_file) if args.session_file else None
        self.reader = LineReader(sys.stdin)
        self.quit = asyncio.Event()
        self.session: Session | None = None
        self.running = False
        self.cancel_requested = False
        self.refused = False  # a confirmation of the current run was refused (by the user, EOF or expiry)
        self.armed = False  # a Ctrl-C since the last question: the next one while idle quits
        self.prompts: set[asyncio.Task[None]] = set()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, self.on_interrupt)
        self.reader.start()
        confirm = self.approve if self.args.auto_confirm else None
        client = AgentClient(self.args.url, confirm=confirm)
        try:
            await client.connect()
            self.session = await self.open_session(client)
            scripted = bool(self.args.message or self.args.solve_tasks)
            code = await (self.run_script(self.session) if scripted else self.chat(self.session))
            await self.finish(self.session)
            return code
        except ClientError as exc:
            self.out.error(str(exc))
            return EXIT_FAILED
        finally:
            self.reader.close()
            await client.close()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    async def open_session(self, client: AgentClient) -> Session:
        session: Session | None = None
        if self.session_file is not None and self.session_file.exists():
            try:
                state = json.loads(self.session_file.read_text(encoding="utf-8"))
                session = await client.restore_session(state)
            except (ValueError, ClientProtocolError) as exc:
                self.out.error(f"cannot restore from {self.session_file}: {exc}; starting a new session")
        if session is None:
            session = await client.create_session()
        if session.created is not None:
            self.out.event(session.created)
        return session

    async def chat(self, session: Session) -> int:
        if not self.args.json:
            self.out.info("Type a question (Ctrl-C cancels a run, Ctrl-C twice or Ctrl-D quits).")
        while not self.quit.is_set():
            line = await self.read_line("you> ")
            if line is None:
                break
            if not line.strip():
                continue
            if line.strip() in ("/quit", "/exit"):
                break
            self.armed = False
            await self.turn(session, functools.partial(session.send, line))
        return EXIT_OK

    async def run_script(self, session: Session) -> int:
        ok = True
        if self.args.solve_tasks:
            try:
                tasks, question = load_tasks(self.args.solve_tasks)
            except (OSError, ValueError) as exc:
                self.out.error(f"cannot read tasks: {exc}")
                return EXIT_USAGE
            ok = await self.turn(session, functools.partial(session.solve_tasks, tasks, question))
        for text in self.args.message:
            if self.quit.is_set():
                break
            ok = await self.turn(session, functools.partial(session.send, text)) and ok
        return EXIT_OK if ok else EXIT_FAILED

    async def turn(self, session: Session, start: Callable[[], RunStream]) -> bool:
        """One run: print its events; true when it ended with a final answer and nothing was refused."""
        self.running, self.cancel_requested, self.refused = True, False, False
        loop = asyncio.get_running_loop()
        timer = None
        try:
            stream = start()
            if self.args.cancel_after is not None:
                timer = loop.call_later(self.args.cancel_after, lambda: self.spawn(session.cancel()))
            last = await self.until_quit(self.consume(session, stream))
            # a direct-mode Plan & Solve run ends with pipeline.tasks_completed rather than a final answer
            ended = last is not None and last.name not in (AgentEvents.ERROR, AgentEvents.INTERRUPTED)
            return ended and not self.refused
        except ClientError as exc:
            self.out.error(str(exc))
            return False
        finally:
            self.running = False
            if timer is not None:
                timer.cancel()
            for prompt in self.prompts:
                prompt.cancel()
            if self.cancel_requested:
                self.armed = True

    async def consume(self, session: Session, stream: RunStream) -> Event | None:
        last = None
        async for event in stream:
            self.out.event(event)
            last = event
            result = event.tool_result()
            if result is not None and result.status in _REFUSED_STATUSES:
                self.refused = True
            request = event.confirm_request()
            if request is not None and not session.is_answered(request.step_id):
                prompt = asyncio.create_task(self.ask_confirmation(session, request))
                self.prompts.add(prompt)
                prompt.add_done_callback(self.prompts.discard)
            elif event.name == AgentEvents.FINAL_ANSWER:
                await self.save_state(session)
        return last

    async def ask_confirmation(self, session: Session, request: ConfirmRequest) -> None:
        answer = await self.read_line(f"Run {request.tool_name} {_brief_json(request.tool_args)}? [y/n] ")
        if answer is None and self.quit.is_set():
            return  # quitting: the run is cancelled on the way out
        confirmed = answer is not None and answer.strip().lower() in ("y", "yes", "是", "好")
        if not confirmed:
            self.refused = True
        # End of input refuses at once: nobody is left to answer, so the request must not wait for its expiry.
        note = None if confirmed else "the user declined" if answer is not None else "end of input: nobody can answer"
        await session.confirm(request.step_id, confirmed, note)

    def approve(self, request: ConfirmRequest) -> bool:
        self.out.info(f"auto-confirmed {request.tool_name}")
        return True

    async def finish(self, session: Session) -> None:
        with contextlib.suppress(ClientError, TimeoutError):
            if session.busy:
                await asyncio.wait_for(session.cancel(), 5)
            if self.session_file is not None:
                await self.save_state(session)
            await asyncio.wait_for(session.close(), 5)

    async def save_state(self, session: Session) -> None:
        """Export the signed state: kept by the client (to restore the session should the server
        lose it, e.g. in a restart) and, with ``--session-file``, written there."""
        try:
            state = await session.export_state()
        except ClientError as exc:
            self.out.error(f"could not save the session state: {exc}")
            return
        if self.session_file is not None:
            write_json_atomically(self.session_file, state)

    # -- Ctrl-C and input -----------------------------------------------------------------------

    def on_interrupt(self) -> None:
        if self.running and self.session is not None and not self.cancel_requested:
            self.cancel_requested = True
            self.out.info("cancelling… (Ctrl-C again to quit)")
            self.spawn(self.session.cancel())
        elif self.running or self.armed:
            self.quit.set()
        else:
            self.armed = True
            self.out.info("\n(press Ctrl-C again or Ctrl-D to quit)")

    async def read_line(self, prompt: str) -> str | None:
        self.out.prompt(prompt)
        line = await self.until_quit(self.reader.readline())
        if line is None and not self.args.json:
            self.out.info("")
        return line

    async def until_quit(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or ``None`` (and ``work`` cancelled) once the user quits.

        Cancelling the caller cancels ``work`` too: a confirmation prompt dropped after Ctrl-C must
        not leave a reader behind that would swallow the next line the user types.
        """
        task = asyncio.ensure_future(work)
        quitting = asyncio.ensure_future(self.quit.wait())
        try:
            await asyncio.wait({task, quitting}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            quitting.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None

    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and isinstance(task.exception(), ClientError):
            self.out.error(str(task.exception()))


def load_tasks(path: str) -> tuple[list[Any], str | None]:
    """Tasks from a JSON file: a list of task objects, or ``{"tasks": [...], "question": "..."}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("tasks"), list):
        question = data.get("question")
        return data["tasks"], question if isinstance(question, str) else None
    raise ValueError(f"{path}: expected a list of tasks or an object with `tasks`")


if __name__ == "__main__":
    sys.exit(main())

"""The user's guide (quick-start.md) as test material, and the real server processes its code runs against.

The guide's code blocks are read from the markdown at test time and run unchanged, so a change to the
guide is tested as written. Blocks are found by content (language tag plus marker strings), not by
position, so prose edits or reordered sections do not break the lookup.

The guide's clients hard-code ``ws://localhost:8080``. The servers here listen on a free port of
``localhost`` instead, so that the suite runs beside ``make run`` (which serves on 8080); each client
is run with that one literal rewritten to the test server's URL (:func:`at_url`), and nothing else
changed. The guide's server example gets the same treatment for its ``port=8080``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "GUIDE_LITERAL_URL",
    "REPO",
    "WEATHER_EXAMPLE",
    "CodeBlock",
    "ServerProcess",
    "ack_snippet",
    "at_url",
    "child_env",
    "code_blocks",
    "export_state_snippet",
    "find_block",
    "free_port",
    "guide_path",
    "guide_port",
    "html_client",
    "metrics",
    "node_client",
    "python_client",
    "restore_state_snippet",
    "server_example",
    "weather_server",
    "weather_server_process",
]

REPO = Path(__file__).resolve().parents[2]
WEATHER_EXAMPLE = REPO / "examples" / "weather_agent.py"
#: The server address the guide's clients hard-code; :func:`at_url` replaces it and nothing else.
GUIDE_LITERAL_URL = "ws://localhost:8080"
_GUIDE_LITERAL_PORT = "port=8080"

# Where the guide lives: $MYAGENT_GUIDE, else the repository's docs/, else the shared seed copy.
_GUIDE_CANDIDATES = (REPO / "docs" / "quick-start.md", Path("/work/shared/seed/quick-start.md"))

# Model endpoint settings that would take the server off the deterministic offline model.
_MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")
# A proxy from the environment must not intercept connections to localhost (websockets honours them).
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")

READY_ATTEMPTS = 150  # x READY_INTERVAL: bounded readiness polling of the server process
READY_INTERVAL = 0.1
STOP_TIMEOUT = 15.0

_FENCE = re.compile(r"^```([\w+-]*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


# -- the guide's code ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    code: str


def guide_path() -> Path:
    override = os.environ.get("MYAGENT_GUIDE")
    candidates = (Path(override),) if override else _GUIDE_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail(f"the user's guide quick-start.md was not found (looked at: {', '.join(map(str, candidates))})")


def code_blocks(path: Path | None = None) -> list[CodeBlock]:
    """Every fenced code block of the guide, in order."""
    text = (path or guide_path()).read_text(encoding="utf-8")
    return [CodeBlock(lang.lower(), code) for lang, code in _FENCE.findall(text)]


def find_block(lang: str, *markers: str) -> str:
    """The one ``lang`` block containing every marker; fails the test unless exactly one matches."""
    matches = [b.code for b in code_blocks() if b.lang == lang and all(m in b.code for m in markers)]
    if len(matches) != 1:
        pytest.fail(
            f"expected exactly one ```{lang} block containing {markers!r} in {guide_path()}, found {len(matches)}"
        )
    return matches[0]


def at_url(code: str, url: str) -> str:
    """``code`` with the guide's server URL literal replaced by ``url`` (it must be there)."""
    if GUIDE_LITERAL_URL not in code:
        pytest.fail(f"the guide's client no longer contains {GUIDE_LITERAL_URL!r}: update tests/acceptance/guide.py")
    return code.replace(GUIDE_LITERAL_URL, url)


def html_client(url: str) -> str:
    return at_url(find_block("html", "<!DOCTYPE html>", "new WebSocket("), url)


def node_client(url: str) -> str:
    return at_url(find_block("javascript", "class MyAgentClient", "require('ws')"), url)


def python_client(url: str) -> str:
    return at_url(find_block("python", "class MyAgentClient", "import websockets"), url)


def ack_snippet() -> str:
    return find_block("javascript", "user.ack", "ws.onmessage")


def server_example(port: int) -> str:
    """The guide's server example with its ``port=8080`` (and nothing else) changed to ``port``."""
    code = find_block("python", "class MyTool", "AgentWebSocketServer")
    if code.count(_GUIDE_LITERAL_PORT) != 1:
        pytest.fail(f"the guide's server example no longer contains {_GUIDE_LITERAL_PORT!r} once")
    return code.replace(_GUIDE_LITERAL_PORT, f"port={port}")


def export_state_snippet() -> str:
    """Section 6, 状态导出: ``exportState()`` and a ``handleMessage`` that saves the state."""
    return find_block("javascript", "function exportState", "agent.state_exported")


def restore_state_snippet() -> str:
    """Section 6, 状态恢复: ``restoreState(id)`` and a ``handleMessage`` that adopts the restored session."""
    return find_block("javascript", "function restoreState", "agent.state_restored")


# -- processes -------------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment for processes under test: no model endpoint, no proxies, unbuffered Python."""
    drop = {name.lower() for name in _PROXY_ENV} | {name.lower() for name in _MODEL_ENV}
    env = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, str]:
    with _NO_PROXY.open(f"http://localhost:{port}{path}", timeout=timeout) as response:
        return response.status, response.read().decode()


def metrics(port: int) -> dict[str, float]:
    """The ``/metrics`` of the server on ``port`` as ``{name: value}``."""
    status, text = http_get(port, "/metrics")
    assert status == 200, text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def guide_port() -> int:
    """The port of this test's server(s), and of the URL the guide's clients are pointed at."""
    return free_port()


def _port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("localhost", port), timeout=1.0):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server started as its own process on ``localhost:port``; :meth:`stop` asserts a clean exit."""

    def __init__(self, argv: list[str], workdir: Path, name: str, port: int) -> None:
        self.argv = argv
        self.workdir = workdir
        self.name = name
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"

    def output(self) -> str:
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"--- {self.name} {label} ---\n{text}")
        return "\n".join(parts)

    @property
    def url(self) -> str:
        return f"ws://localhost:{self.port}"

    def start(self) -> None:
        if _port_in_use(self.port):
            pytest.fail(f"port {self.port} on localhost is already in use (taken since it was picked as free)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=child_env(), stdout=out, stderr=err)
        for _ in range(READY_ATTEMPTS):
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with code {self.proc.returncode} before serving\n{self.output()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                status, body = http_get(self.port, "/healthz", timeout=1.0)
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            time.sleep(READY_INTERVAL)
        self.kill()
        pytest.fail(f"{self.name} did not answer GET /healthz on port {self.port}\n{self.output()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """Ctrl-C the server; it must exit 0 without a traceback."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} died during the test (exit code {self.proc.returncode})\n{self.output()}")
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not exit within {STOP_TIMEOUT}s of SIGINT\n{self.output()}")
        assert code == 0, f"{self.name} exited with code {code} after SIGINT\n{self.output()}"
        stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in stderr, f"{self.name} logged a traceback\n{self.output()}"

    @contextlib.contextmanager
    def running(self) -> Iterator[ServerProcess]:
        self.start()
        try:
            yield self
        except BaseException:
            self.kill()
            raise
        self.stop()


def weather_server_process(workdir: Path, *extra_args: str, port: int, name: str = "weather server") -> ServerProcess:
    """``python -m myagent.cli.server server examples/weather_agent.py`` on ``localhost:port`` (not started).

    ``extra_args`` are appended to the command line (e.g. ``--state-secret-key``). ``workdir`` should
    hold no .env, so that the offline model is used whatever the developer's setup; ``name`` names
    the process in failures and its output files, so several may share ``workdir``.
    """
    argv = [sys.executable, "-m", "myagent.cli.server", "server", str(WEATHER_EXAMPLE)]
    argv += ["--host", "localhost", "--port", str(port), *extra_args]
    return ServerProcess(argv, workdir, name, port)


@pytest.fixture
def weather_server(tmp_path: Path, guide_port: int) -> Iterator[ServerProcess]:
    """The weather example on ``localhost:guide_port`` with the offline model.

    Started fresh for each test (so metrics and sessions belong to that test alone) and stopped with
    SIGINT afterwards, which must give exit code 0 and no traceback.
    """
    server = weather_server_process(tmp_path / "server", port=guide_port)
    with server.running():
        yield server

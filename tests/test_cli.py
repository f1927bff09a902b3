"""The command line, as a user runs it: real processes, real signals, real sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx  # the environment's httpx (the distribution is named httpx2)
import pytest
import websockets

from tests.harness import WAIT, Client

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CONSOLE_SCRIPT = ROOT / ".venv" / "bin" / "myagent"
WRAPPER = ROOT / "scripts" / "myagent-ws"
WEATHER = ROOT / "examples" / "weather_agent.py"
_ENDPOINT_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_MODEL", "MYAGENT_STATE_SECRET")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without model endpoints (offline model) and without a state secret."""
    env = {k: v for k, v in os.environ.items() if k not in _ENDPOINT_KEYS}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server started from the command line; stderr goes to a file (no pipe to fill up)."""

    def __init__(self, args: list[str], cwd: Path, port: int, **env: str) -> None:
        self.port = port
        self.stderr_path = cwd / f"stderr-{port}.log"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            args, cwd=cwd, env=clean_env(**env), stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def wait_healthy(self) -> None:
        """Bounded readiness polling of the external process."""
        deadline = time.monotonic() + WAIT
        with httpx.Client(trust_env=False, timeout=2) as http:
            while True:
                assert self.process.poll() is None, f"server exited early:\n{self.stderr}"
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                        return
                assert time.monotonic() < deadline, f"server never became healthy:\n{self.stderr}"
                time.sleep(0.05)

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=WAIT)

    @property
    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        self._stderr.close()


@contextlib.contextmanager
def serve(args: list[str], cwd: Path, **env: str) -> Iterator[ServerProcess]:
    port = free_port()
    server = ServerProcess([*args, "--host", "127.0.0.1", "--port", str(port)], cwd, port, **env)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.close()


# -- bad agent files: exit 2 with one clear line ---------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [[PYTHON, "-m", "myagent.cli.server", "server"], [str(CONSOLE_SCRIPT), "server"]],
    ids=["python-m", "console-script"],
)
def test_missing_agent_file_exits_2_with_one_line(tmp_path, command):
    result = run_cli([*command, "missing.py"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "missing.py" in lines[0] and "not found" in lines[0]


def test_agent_file_that_raises_on_import_exits_2_without_traceback(tmp_path):
    (tmp_path / "broken.py").write_text("import os\nraise RuntimeError('the agent file is broken')\n")
    result = run_cli([PYTHON, "-m", "myagent.cli.server", "server", "broken.py"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "RuntimeError" in lines[0] and "the agent file is broken" in lines[0]


def test_agent_file_without_a_factory_exits_2_with_a_clear_line(tmp_path):
    (tmp_path / "empty_agent.py").write_text("VALUE = 1\n\ndef helper():\n    return VALUE\n")
    result = run_cli([PYTHON, "-m", "myagent.cli.server", "server", "empty_agent.py"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "create_agent" in lines[0] and "agent_factory" in lines[0] and "empty_agent.py" in lines[0]


def test_version(tmp_path):
    from myagent import __version__

    result = run_cli([str(CONSOLE_SCRIPT), "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"myagent {__version__}"


# -- serving, signals --------------------------------------------------------------------------------


def test_wrapper_serves_the_example_and_sigterm_exits_0(tmp_path):
    with serve([str(WRAPPER), "server", str(WEATHER)], tmp_path) as server:
        assert server.stop(signal.SIGTERM) == 0, server.stderr
        stderr = server.stderr
    assert "Traceback" not in stderr
    # no MYAGENT_STATE_SECRET: the server says it uses a random key
    warnings = [line for line in stderr.splitlines() if "random key" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], stderr


async def test_sigint_with_a_client_mid_session_closes_it_with_1001_and_exits_0(tmp_path):
    with serve([str(WRAPPER), "server", str(WEATHER)], tmp_path, MYAGENT_STATE_SECRET="s3cret") as server:
        client = await Client.connect(server.url)
        await client.create_session()
        frames = await client.ask("北京明天天气怎么样？")
        assert frames[-1]["event"] == "agent.final_answer" and "北京" in frames[-1]["content"]
        server.process.send_signal(signal.SIGINT)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await client.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert server.process.wait(timeout=WAIT) == 0
        stderr = server.stderr
    assert "Traceback" not in stderr
    assert "random key" not in stderr  # the secret came from the environment


MODULE_LEVEL_AGENT = """
from myagent import create_toolcall_agent
from myagent.llm import FunctionModel


def reply(request):
    said = [m.content for m in request.messages if m.role == "user"]
    return "history: " + " | ".join(said)


agent = create_toolcall_agent(llm=FunctionModel(reply), name="template")
"""


async def test_module_level_agent_gives_each_session_its_own_agent(tmp_path):
    (tmp_path / "shared.py").write_text(MODULE_LEVEL_AGENT)
    with serve([PYTHON, "-m", "myagent.cli.server", "server", "shared.py"], tmp_path) as server:
        client = await Client.connect(server.url)
        first = (await client.create_session())["session_id"]
        second = (await client.create_session())["session_id"]
        assert first != second

        async def answer(session_id: str, text: str) -> str:
            frames = await client.ask(text, session_id=session_id)
            assert frames[-1]["event"] == "agent.final_answer", frames[-1]
            return str(frames[-1]["content"])

        assert await answer(first, "alpha") == "history: alpha"
        assert await answer(second, "beta") == "history: beta"  # nothing of the first session
        assert await answer(first, "gamma") == "history: alpha | gamma"
        assert await answer(second, "delta") == "history: beta | delta"
        await client.close()
        assert server.stop(signal.SIGTERM) == 0
        assert "Traceback" not in server.stderr

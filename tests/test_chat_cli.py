"""``myagent chat`` as a user runs it: the console script under a pseudo-terminal, a real server process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx  # the environment's httpx (the distribution is named httpx2)
import pexpect
import pytest

from tests.harness import WAIT

ROOT = Path(__file__).resolve().parents[1]
MYAGENT = ROOT / ".venv" / "bin" / "myagent"
CHAT = [str(MYAGENT), "chat"] if MYAGENT.exists() else [sys.executable, "-m", "myagent.cli.main", "chat"]
WEATHER = ROOT / "examples" / "weather_agent.py"
_ENDPOINT_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_MODEL", "MYAGENT_STATE_SECRET")

SLOW_AGENT = textwrap.dedent(
    """
    import asyncio

    from myagent import create_toolcall_agent
    from myagent.llm import FunctionModel, call
    from myagent.tool import BaseTool, ToolResult


    class Block(BaseTool):
        name = "block"
        description = "Waits for something that never happens"

        async def execute(self) -> ToolResult:
            await asyncio.Event().wait()
            return ToolResult(output="unreachable")


    def reply(request):
        last = request.messages[-1]
        if last.role == "user" and "slow" in (last.content or ""):
            return call("block")
        question = next(m.content for m in reversed(request.messages) if m.role == "user")
        return f"pong: {question}"


    def create_agent():
        return create_toolcall_agent(llm=FunctionModel(reply), tools=[Block()], name="slow_agent")
    """
)

PIPELINE_AGENT = textwrap.dedent(
    """
    from myagent.plan_solve import PlanAgent, SolverAgent, create_plan_solver, task_id


    class Planner(PlanAgent):
        async def plan(self, question, run):
            return [{"id": 1, "title": "first"}, {"id": 2, "title": "second"}], "two parts"


    class Solver(SolverAgent):
        async def solve(self, task, context, run):
            return f"result {task_id(task)}"

        def summarize(self, task, output):
            return f"summary of {task_id(task)}"


    def create_agent():
        return create_plan_solver(planner=Planner(), solver=Solver(), concurrency=1)
    """
)

# -- helpers ------------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """No model endpoint (the offline model answers), unbuffered output, a colour terminal."""
    env = {k: v for k, v in os.environ.items() if k not in _ENDPOINT_KEYS}
    env.update(PYTHONUNBUFFERED="1", TERM="xterm-256color", COLUMNS="200", **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_process(agent_file: Path, log_dir: Path, port: int | None = None, **env: str) -> Iterator[str]:
    """``python -m myagent.cli.server server FILE`` on a (free) port, ready when /healthz answers."""
    port = port or free_port()
    log = (log_dir / f"server-{port}-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "myagent.cli.server", "server", str(agent_file)),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=log_dir,
        env=clean_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + WAIT
        with httpx.Client(trust_env=False, timeout=2) as http:
            while True:  # bounded readiness polling of an external process
                assert process.poll() is None, f"server exited early: {Path(log.name).read_text()}"
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                assert time.monotonic() < deadline, "server never became healthy"
                time.sleep(0.05)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def weather_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_process(WEATHER, tmp_path_factory.mktemp("weather")) as url:
        yield url


@pytest.fixture(scope="module")
def slow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("slow")
    agent = directory / "slow_agent.py"
    agent.write_text(SLOW_AGENT, encoding="utf-8")
    with server_process(agent, directory) as url:
        yield url


@pytest.fixture(scope="module")
def pipeline_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("pipeline")
    agent = directory / "pipeline_agent.py"
    agent.write_text(PIPELINE_AGENT, encoding="utf-8")
    with server_process(agent, directory) as url:
        yield url


def spawn_chat(url: str, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        CHAT[0], [*CHAT[1:], url, *args], env=clean_env(), encoding="utf-8", timeout=WAIT, dimensions=(40, 200)
    )
    child.expect_exact("you> ")
    return child


def run_chat(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAT, url, *args],
        cwd=cwd,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
    )


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def finished(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus)


# -- interactive ----------------------------------------------------------------------------------


def test_confirmation_prompt_then_the_answer(weather_url: str) -> None:
    child = spawn_chat(weather_url)
    child.sendline("订阅深圳的天气预警")
    child.expect_exact('Run subscribe_weather_alert {"city": "深圳"}? [y/n]')
    child.sendline("y")
    child.expect_exact(" success: 已为深圳订阅")  # the tool result line
    child.expect_exact("已为深圳订阅恶劣天气预警")  # the streamed answer
    child.expect_exact("you> ")
    child.sendeof()
    assert finished(child) == 0


def test_refusing_a_confirmation(weather_url: str) -> None:
    child = spawn_chat(weather_url)
    child.sendline("订阅上海的天气预警")
    child.expect_exact('Run subscribe_weather_alert {"city": "上海"}? [y/n]')
    child.sendline("n")
    child.expect_exact(" refused: ")  # the tool result line
    child.expect_exact("you> ")
    child.sendline("/quit")
    assert finished(child) == 0


def test_ctrl_c_at_a_confirmation_prompt_loses_no_typed_line(weather_url: str) -> None:
    child = spawn_chat(weather_url)
    child.sendline("订阅深圳的天气预警")
    child.expect_exact('Run subscribe_weather_alert {"city": "深圳"}? [y/n]')
    child.sendintr()
    child.expect_exact("interrupted (user_cancel)")
    child.expect_exact("you> ")
    child.sendline("北京天气怎么样")  # the first line typed after the dropped prompt reaches the agent
    child.expect_exact("北京今天晴")
    child.expect_exact("you> ")
    child.sendeof()
    assert finished(child) == 0


def test_ctrl_c_cancels_the_run_and_twice_quits(slow_url: str) -> None:
    child = spawn_chat(slow_url)
    child.sendline("please be slow")
    child.expect_exact("block")  # the tool call line: the run now waits inside the tool
    child.sendintr()
    child.expect_exact("interrupted (user_cancel)")
    child.expect_exact("you> ")
    child.sendline("hello")
    child.expect_exact("pong: hello")
    child.expect_exact("you> ")
    child.sendintr()
    child.expect_exact("press Ctrl-C again")
    child.sendintr()
    assert finished(child) == 0


def test_the_chat_goes_on_across_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    with server_process(WEATHER, tmp_path, port, MYAGENT_STATE_SECRET="chat-test-secret") as url:
        child = spawn_chat(url)
        child.sendline("北京天气怎么样")
        child.expect_exact("北京今天晴")
        child.expect_exact("you> ")
    # the server is gone (its sessions with it); a new process with the same key takes the port
    with server_process(WEATHER, tmp_path, port, MYAGENT_STATE_SECRET="chat-test-secret"):
        child.sendline("上海天气怎么样")
        child.expect_exact("会话已恢复")  # restored from the state saved after the first answer
        child.expect_exact("上海今天小雨")
        child.expect_exact("you> ")
        child.sendeof()
        assert finished(child) == 0


# -- scripted ---------------------------------------------------------------------------------------


def test_json_and_message_print_every_event_and_exit(weather_url: str, tmp_path: Path) -> None:
    result = run_chat(weather_url, "--json", "--message", "北京天气怎么样", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    names = [e["event"] for e in events]
    assert names[0] == "agent.session_created"
    assert names[-1] == "agent.final_answer"
    assert "agent.tool_call" in names and "agent.partial_answer" in names
    assert "北京今天晴" in str(events[-1]["content"])
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_session_file_carries_the_conversation_to_the_next_run(weather_url: str, tmp_path: Path) -> None:
    state_file = tmp_path / "session.json"
    first = run_chat(weather_url, "--json", "--session-file", str(state_file), "--message", "上海天气", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "signature" in json.loads(state_file.read_text(encoding="utf-8"))
    original = json_lines(first.stdout)[0]["session_id"]

    second = run_chat(weather_url, "--json", "--session-file", str(state_file), "--message", "广州天气", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    events = json_lines(second.stdout)
    assert events[0]["event"] == "agent.state_restored"
    assert events[0]["metadata"]["original_session_id"] == original  # type: ignore[index]
    assert events[-1]["event"] == "agent.final_answer"


def test_end_of_input_refuses_a_confirmation_at_once(weather_url: str, tmp_path: Path) -> None:
    # stdin is /dev/null: nobody can answer, so the request is refused now (not after its 300 s expiry)
    result = run_chat(weather_url, "--json", "--message", "订阅广州的天气预警", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the run was refused
    events = json_lines(result.stdout)
    [done] = [e for e in events if e["event"] == "agent.tool_result"]
    assert done["metadata"]["status"] == "refused"  # type: ignore[index]
    assert "end of input" in str(done["content"])
    assert events[-1]["event"] == "agent.final_answer"  # the run itself went on to its end


def test_refusing_at_the_prompt_makes_a_scripted_run_fail(weather_url: str) -> None:
    child = pexpect.spawn(
        CHAT[0],
        [*CHAT[1:], weather_url, "--message", "订阅上海的天气预警"],
        env=clean_env(),
        encoding="utf-8",
        timeout=WAIT,
        dimensions=(40, 200),
    )
    child.expect_exact("[y/n]")
    child.sendline("n")
    child.expect_exact(" refused: ")
    assert finished(child) == 1


def test_cancel_after_interrupts_each_run(slow_url: str, tmp_path: Path) -> None:
    result = run_chat(slow_url, "--json", "--cancel-after", "0.2", "--message", "be slow", cwd=tmp_path)
    assert result.returncode == 1  # the run did not end with an answer
    assert json_lines(result.stdout)[-1]["event"] == "agent.interrupted"


def test_auto_confirm_runs_the_tool_without_asking(weather_url: str, tmp_path: Path) -> None:
    result = run_chat(weather_url, "--auto-confirm", "--message", "订阅广州的天气预警", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "auto-confirmed subscribe_weather_alert" in result.stdout
    assert "已为广州订阅恶劣天气预警" in result.stdout
    assert "[y/n]" not in result.stdout


def test_solve_tasks_prints_progress_per_task(pipeline_url: str, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"tasks": [{"id": 7, "title": "概览"}, {"id": 8, "title": "地区"}]}), encoding="utf-8")
    result = run_chat(pipeline_url, "--solve-tasks", str(tasks), "--message", "a report", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "▶ solver.start task 7 概览" in lines
    assert "✓ solver.completed task 7 概览: summary of 7" in lines
    assert "✓ solver.completed task 8 地区: summary of 8" in lines
    # then the message runs the whole pipeline and answers
    assert any(line.startswith("• pipeline.completed") for line in lines)
    assert "result 1" in result.stdout and "result 2" in result.stdout


def test_solve_tasks_on_an_agent_without_plan_and_solve(weather_url: str, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"id": 1, "title": "概览"}]), encoding="utf-8")
    result = run_chat(weather_url, "--solve-tasks", str(tasks), cwd=tmp_path)
    assert result.returncode == 1  # the refusal is shown and the exit code says so
    assert "NOT_SUPPORTED" in result.stdout + result.stderr


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    result = run_chat(f"ws://127.0.0.1:{free_port()}", "--message", "hi", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot connect" in result.stdout + result.stderr

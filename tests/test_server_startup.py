"""What ``myagent server`` says when it starts, and a broken agent file refused at startup (real processes)."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from tests.test_cli import PYTHON, WEATHER, run_cli, serve

SERVER = [PYTHON, "-m", "myagent.cli.server", "server"]


def test_startup_names_the_offline_model_and_the_console_url(tmp_path: Path) -> None:
    with serve([*SERVER, str(WEATHER)], tmp_path) as server:
        assert server.stop(signal.SIGINT) == 0
        stderr = server.stderr
    [model_line] = [line for line in stderr.splitlines() if "model: " in line and "agent 'weather_agent'" in line]
    assert "OFFLINE" in model_line and "WARNING" in model_line, stderr
    assert f"web console: http://127.0.0.1:{server.port}/ui/" in stderr


def test_startup_names_the_model_and_endpoint_but_never_the_key(tmp_path: Path) -> None:
    endpoint = "http://someone:hunter2@127.0.0.1:9/v1?api-key=query-secret"
    env = {"OPENAI_API_KEY": "sk-very-secret", "OPENAI_BASE_URL": endpoint, "LLM_MODEL": "qwen-test"}
    with serve([*SERVER, str(WEATHER)], tmp_path, **env) as server:  # no request is made at startup
        assert server.stop(signal.SIGINT) == 0
        stderr = server.stderr
    assert "model: qwen-test at http://127.0.0.1:9/v1" in stderr, stderr
    assert "OFFLINE" not in stderr.split("agent 'weather_agent'")[1]
    for secret in ("sk-very-secret", "hunter2", "query-secret", "someone"):
        assert secret not in stderr


BROKEN_TOOLS = textwrap.dedent(
    """
    from myagent import create_toolcall_agent
    from myagent.tool import BaseTool


    class Lookup(BaseTool):
        name = "lookup"
        description = "Looks something up."

        async def execute(self, query: str) -> str:
            return query


    def create_agent():  # called once per session: a broken tool would fail every session
        return create_toolcall_agent(tools=[Lookup(), Lookup()], name="broken")
    """
)

BAD_SCHEMA = textwrap.dedent(
    """
    from myagent import create_toolcall_agent
    from myagent.tool import BaseTool


    class Bad(BaseTool):
        name = "bad"
        description = "A parameters dict that is not JSON Schema."
        parameters = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}

        async def execute(self, **kwargs) -> str:
            return "never"


    def create_agent():
        return create_toolcall_agent(tools=[Bad()])
    """
)


@pytest.mark.parametrize(("source", "reason"), [(BROKEN_TOOLS, "two tools are named"), (BAD_SCHEMA, "schema")])
def test_an_agent_file_with_broken_tools_fails_at_startup_with_one_line(
    tmp_path: Path, source: str, reason: str
) -> None:
    (tmp_path / "agent.py").write_text(source, encoding="utf-8")
    result = run_cli([*SERVER, "agent.py", "--port", "0"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("myagent: agent.py: cannot build an agent: ToolError")
    assert reason in lines[0]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:sk-secret@llm.example:8443/v1?api-key=k#frag", "https://llm.example:8443/v1"),
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
    ],
)
def test_an_endpoint_is_shown_without_credentials(url: str, shown: str) -> None:
    from myagent.llm.describe import public_endpoint

    assert public_endpoint(url) == shown


def test_a_plan_and_solve_agent_names_the_model_of_its_parts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from myagent.llm.describe import describe_model, find_model

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    from tests.test_plan_solve_example import load_example

    agent = load_example().create_agent()  # the offline model, held by the planner and the solvers
    assert describe_model(find_model(agent)).startswith("model: OFFLINE")

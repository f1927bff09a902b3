"""MCP tools against real MCP server processes (stdio and streamable HTTP)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

pytest.importorskip("mcp")

from myagent import create_toolcall_agent
from myagent.agent.events import FinalAnswer, ToolCallFinished
from myagent.llm.testing import ScriptedModel, call
from myagent.tool import lifecycle
from myagent.tool.mcp import MCPToolset, StdioServer, StreamableHttpServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SERVER = ROOT / "examples" / "mcp_server.py"
TEST_SERVER = ROOT / "tests" / "fakes" / "mcp_test_server.py"
WAIT = 30.0


def stdio_test_server() -> StdioServer:
    return StdioServer(sys.executable, [str(TEST_SERVER)])


@pytest.fixture
async def toolset() -> AsyncIterator[MCPToolset]:
    tools = MCPToolset(stdio_test_server())
    yield tools
    await tools.aclose()


def finished(events: list[object]) -> list[ToolCallFinished]:
    return [e for e in events if isinstance(e, ToolCallFinished)]


async def run(agent: object, text: str) -> list[object]:
    return [event async for event in agent.stream(text)]  # type: ignore[attr-defined]


def process_ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- stdio ------------------------------------------------------------------------------------


async def test_example_server_tools_have_the_mcp_input_schema() -> None:
    async with MCPToolset(StdioServer(sys.executable, [str(EXAMPLE_SERVER)])) as clock:
        tools = {tool.name: tool for tool in await clock.tools()}
        assert {"get_city_time", "list_cities"} <= set(tools)
        schema = tools["get_city_time"].to_schema()["function"]
        assert schema["parameters"]["properties"]["city"]["type"] == "string"
        assert schema["parameters"]["required"] == ["city"]
        assert "Current local time" in schema["description"]
        result = await tools["get_city_time"](city="Tokyo")
        assert result.ok and result.data["timezone"] == "Asia/Tokyo"
        assert "Asia/Tokyo" in str(result)  # the model reads the text block


async def test_agent_calls_an_mcp_tool_and_gets_text_and_structured_content(toolset: MCPToolset) -> None:
    model = ScriptedModel([call("get_city_time", {"city": "Tokyo"}), "It is 08:00 in Tokyo."])
    agent = create_toolcall_agent(llm=model, name="clock")
    await toolset.install(agent)
    events = await run(agent, "What time is it in Tokyo?")
    (done,) = finished(events)
    assert done.status == "ok"
    assert done.result.data == {"city": "Tokyo", "time": "2026-01-01 08:00", "timezone": "Asia/Tokyo"}
    tool_message = model.requests[1].messages[-1]
    assert tool_message.role == "tool" and "2026-01-01 08:00" in (tool_message.content or "")
    assert isinstance(events[-1], FinalAnswer) and events[-1].text == "It is 08:00 in Tokyo."


async def test_arguments_are_validated_before_the_server_sees_them(toolset: MCPToolset) -> None:
    model = ScriptedModel([call("add", {"a": "one", "b": 2}), "Sorry."])
    agent = create_toolcall_agent(llm=model)
    await toolset.install(agent)
    (done,) = finished(await run(agent, "add"))
    assert done.status == "invalid_arguments"
    assert "a" in (done.result.error or "")


async def test_a_tool_error_from_the_server_is_a_tool_error(toolset: MCPToolset) -> None:
    tools = {tool.name: tool for tool in await toolset.tools()}
    result = await tools["fail"](reason="disk full")
    assert not result.ok and "disk full" in (result.error or "")


async def test_a_server_that_crashes_mid_call_gives_a_clear_error_and_the_run_goes_on(toolset: MCPToolset) -> None:
    model = ScriptedModel(
        [call("crash"), call("get_city_time", {"city": "Paris"}), "The clock server restarted; Paris is fine."]
    )
    agent = create_toolcall_agent(llm=model)
    await toolset.install(agent)
    events = await run(agent, "crash it, then ask again")
    crashed, again = finished(events)
    assert crashed.status == "error"
    assert "closed the connection during the request" in (crashed.result.error or "")
    assert again.status == "ok" and again.result.data["city"] == "Paris"  # a new server process answered
    assert isinstance(events[-1], FinalAnswer)
    assert toolset.connection.opened == 2


async def test_tools_list_changed_updates_installed_agents(toolset: MCPToolset) -> None:
    agent = create_toolcall_agent(llm=ScriptedModel([]))
    await toolset.install(agent)
    assert "shout" not in agent.tools
    tools = {tool.name: tool for tool in await toolset.tools()}
    toolset.refreshed.clear()
    result = await tools["learn_tool"](name="shout")
    assert result.ok
    await asyncio.wait_for(toolset.refreshed.wait(), WAIT)
    assert "shout" in agent.tools
    echoed = await agent.tools.get("shout")(text="hi")  # type: ignore[misc]
    assert str(echoed) == "hi"


async def test_user_confirm_is_chosen_per_tool() -> None:
    async with MCPToolset(stdio_test_server(), confirm={"crash", "fail"}, prefix="t_") as toolset:
        confirm = {tool.name: tool.user_confirm for tool in await toolset.tools()}
    assert confirm["t_crash"] and confirm["t_fail"]
    assert not confirm["t_add"] and not confirm["t_get_city_time"]


async def test_closing_the_toolset_ends_the_stdio_process(toolset: MCPToolset) -> None:
    tools = {tool.name: tool for tool in await toolset.tools()}
    pid = int((await tools["pid"]()).output)
    assert not process_ended(pid)
    await toolset.aclose()
    assert process_ended(pid)


async def test_per_session_toolsets_get_their_own_process_closed_with_the_agent() -> None:
    shared = MCPToolset(stdio_test_server(), per_session=True)
    first, second = create_toolcall_agent(llm=ScriptedModel([])), create_toolcall_agent(llm=ScriptedModel([]))
    await shared.install(first)
    await shared.install(second)
    pids = [int((await agent.tools.get("pid")()).output) for agent in (first, second)]  # type: ignore[misc]
    assert pids[0] != pids[1]
    await lifecycle.close_agent(first)
    assert process_ended(pids[0]) and not process_ended(pids[1])
    await lifecycle.close_agent(second)
    assert process_ended(pids[1])


async def test_an_unstartable_server_is_a_clear_error() -> None:
    from myagent.tool.mcp import MCPConnectionError

    toolset = MCPToolset(StdioServer(sys.executable, ["-c", "import sys; sys.exit(7)"]), connect_timeout=20)
    with pytest.raises(MCPConnectionError, match="cannot open MCP server"):
        await toolset.tools()


# -- streamable HTTP --------------------------------------------------------------------------


class HttpServerProcess:
    """The test MCP server over streamable HTTP, as its own process (restartable on the same port)."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(TEST_SERVER), "http", str(self.port)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # no graceful goodbye: the client learns of it only from the next request
            self.process.wait(WAIT)
            self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@pytest.fixture
def http_server() -> Iterator[HttpServerProcess]:
    server = HttpServerProcess()
    server.start()
    yield server
    server.stop()


async def test_streamable_http_server_tools_and_reinitialise_after_the_session_is_gone(
    http_server: HttpServerProcess,
) -> None:
    async with MCPToolset(StreamableHttpServer(http_server.url)) as toolset:
        tools = {tool.name: tool for tool in await toolset.tools()}
        assert (await tools["add"](a=2, b=3)).output == "5"
        # A restarted server no longer knows our Mcp-Session-Id and answers 404.
        await asyncio.to_thread(http_server.stop)
        await asyncio.to_thread(http_server.start)
        result = await tools["add"](a=20, b=22)
        assert result.ok and result.output == "42"
        assert toolset.connection.opened == 2


async def test_the_mcp_agent_example_serves_the_clock_tools() -> None:
    from myagent.cli.loader import load_agent_factory

    factory = load_agent_factory(ROOT / "examples" / "mcp_agent.py")
    agent = await factory()
    try:
        assert {"get_city_time", "list_cities"} <= set(agent.tools.names)
        result = await agent.tools.get("get_city_time")(city="London")
        assert result.ok and result.data["timezone"] == "Europe/London"
    finally:
        await lifecycle.close_all()  # what the server does at shutdown: the shared process ends

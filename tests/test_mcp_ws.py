"""An MCP tool call through the WebSocket server, on the real local fake chat-completions endpoint."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

pytest.importorskip("mcp")

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm.openai_compatible import OpenAICompatibleModel
from myagent.tool.mcp import MCPToolset, StdioServer
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.harness import Client, answer_text, events_of, running_server
from tests.test_mcp_tools import process_ended

EXAMPLE_SERVER = Path(__file__).resolve().parent.parent / "examples" / "mcp_server.py"


@pytest.fixture
async def model(fake_openai: FakeOpenAIServer) -> AsyncIterator[OpenAICompatibleModel]:
    model = OpenAICompatibleModel(model="fake-model", base_url=fake_openai.url, timeout=10.0)
    yield model
    await model.aclose()


async def test_mcp_tool_round_trip_over_websocket(fake_openai: FakeOpenAIServer, model: OpenAICompatibleModel) -> None:
    clock = MCPToolset(StdioServer(sys.executable, [str(EXAMPLE_SERVER)]))

    async def create_agent() -> ToolCallAgent:
        agent = create_toolcall_agent(llm=model, name="clock_agent")
        await clock.install(agent)
        return agent

    fake_openai.add_tool_calls([("call_1", "get_city_time", '{"city": "Tokyo"}')])
    fake_openai.add_text("In Tokyo it is evening.", chunks=3)
    async with running_server(create_agent) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        frames = await client.ask("What time is it in Tokyo?")
        assert events_of(frames)[-1] == "agent.final_answer"
        call = next(f for f in frames if f["event"] == "agent.tool_call")
        assert call["metadata"]["tool_name"] == "get_city_time"
        assert call["metadata"]["tool_args"] == {"city": "Tokyo"}
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert result["metadata"]["status"] == "success"
        assert result["metadata"]["data"]["timezone"] == "Asia/Tokyo"
        assert "Asia/Tokyo" in result["content"]
        assert answer_text(frames) == "In Tokyo it is evening."
        # The model was offered the MCP tool with the server's input schema, and saw its result.
        offered = {tool["function"]["name"]: tool["function"] for tool in fake_openai.requests[0]["tools"]}
        assert offered["get_city_time"]["parameters"]["required"] == ["city"]
        assert "Asia/Tokyo" in fake_openai.requests[1]["messages"][-1]["content"]
        children = [p for p in psutil.Process().children(recursive=True) if str(EXAMPLE_SERVER) in p.cmdline()]
        assert len(children) == 1  # one MCP server process, shared by the sessions
        await client.close()
    # Shutting the server down ends the shared MCP server process.
    assert not clock.connection.is_open
    assert process_ended(children[0].pid)


async def test_a_per_session_mcp_server_ends_with_its_session() -> None:
    from myagent.llm.testing import ScriptedModel

    toolset = MCPToolset(StdioServer(sys.executable, [str(EXAMPLE_SERVER)]), per_session=True)

    async def create_agent() -> ToolCallAgent:
        agent = create_toolcall_agent(llm=ScriptedModel([]), name="clock_agent")
        await toolset.install(agent)
        return agent

    def servers() -> list[psutil.Process]:
        return [p for p in psutil.Process().children(recursive=True) if str(EXAMPLE_SERVER) in p.cmdline()]

    async with running_server(create_agent) as server:
        first, second = await Client.connect(server.url), await Client.connect(server.url)
        await first.create_session()
        await second.create_session()
        processes = servers()
        assert len(processes) == 2  # one MCP server process per session
        await first.send("user.close_session", session_id=first.session_id)
        await first.expect("agent.session_end")
        ended = [p for p in processes if process_ended(p.pid)]
        assert len(ended) == 1
        await first.close()
        await second.close()
    assert all(process_ended(p.pid) for p in processes)  # the other one ended at shutdown

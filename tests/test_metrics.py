"""``/metrics`` from prometheus-client: parseable, documented, gauges that follow the server, histograms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from myagent import create_toolcall_agent
from myagent.llm.testing import ScriptedModel, call
from myagent.tool import BaseTool, ToolResult
from myagent.ws.metrics import Metrics
from tests.harness import WAIT, Client, running_server


class Lookup(BaseTool):
    name = "lookup"
    description = "Look something up"

    async def execute(self, key: str) -> ToolResult:
        return ToolResult(output=f"{key}=1")


class Wipe(BaseTool):
    name = "wipe"
    description = "Wipe everything (asks first)"
    user_confirm = True

    async def execute(self) -> ToolResult:
        return ToolResult(output="wiped")


async def until(condition: Callable[[], bool]) -> None:
    """Bounded polling of in-process server state that offers no event to wait for."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by metric name and label set, parsed with prometheus_client's own parser."""
    async with httpx.AsyncClient(trust_env=False, timeout=WAIT) as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        assert family.documentation, f"{family.name} has no help text"
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for key, value in samples.get(name, {}).items() if wanted <= set(key))


async def test_every_metric_parses_and_has_help_text_and_gauges_follow_sessions() -> None:
    model = ScriptedModel([])
    async with running_server(lambda: create_toolcall_agent(llm=model, name="gauge_agent"), grace_period=0) as server:
        samples = await scrape(server.port)
        assert total(samples, "myagent_connections") == 0
        assert total(samples, "myagent_sessions") == 0
        for name in ("myagent_connections_total", "myagent_events_sent_total", "myagent_runs_total"):
            assert name in samples, name
        first, second = await Client.connect(server.url), await Client.connect(server.url)
        await first.create_session()
        await second.create_session()
        samples = await scrape(server.port)
        assert total(samples, "myagent_connections") == 2
        assert total(samples, "myagent_sessions", agent="gauge_agent") == 2
        assert total(samples, "myagent_sessions_total") >= 2
        await first.close()
        await until(lambda: server.service.live_sessions == 1)  # no grace period: the session ends with its connection
        samples = await scrape(server.port)
        assert total(samples, "myagent_connections") == 1
        assert total(samples, "myagent_sessions", agent="gauge_agent") == 1
        await second.close()


async def test_active_runs_and_pending_confirmations_while_a_run_waits() -> None:
    model = ScriptedModel([call("wipe"), "Wiped."])
    async with running_server(lambda: create_toolcall_agent(tools=[Wipe()], llm=model, name="wipe_agent")) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.message", session_id=client.session_id, content="wipe it")
        request = await client.expect("agent.user_confirm")
        samples = await scrape(server.port)
        assert total(samples, "myagent_active_runs", agent="wipe_agent") == 1
        assert total(samples, "myagent_pending_confirmations") == 1
        await client.send(
            "user.response", session_id=client.session_id, step_id=request["step_id"], content={"confirmed": True}
        )
        await client.expect("agent.final_answer")
        await until(lambda: server.service.active_runs == 0)
        samples = await scrape(server.port)
        assert total(samples, "myagent_active_runs") == 0
        assert total(samples, "myagent_pending_confirmations") == 0
        await client.close()


async def test_histograms_record_runs_model_calls_first_tokens_and_tools_by_agent() -> None:
    model = ScriptedModel([call("lookup", {"key": "a"}), "The answer is 1."])
    async with running_server(lambda: create_toolcall_agent(tools=[Lookup()], llm=model, name="histo_agent")) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        frames = await client.ask("look a up")
        assert frames[-1]["event"] == "agent.final_answer"
        samples = await scrape(server.port)
        await client.close()
    agent = "histo_agent"
    assert total(samples, "myagent_run_duration_seconds_count", agent=agent, outcome="answer") == 1
    assert total(samples, "myagent_model_call_duration_seconds_count", agent=agent, model="scripted") == 2
    assert total(samples, "myagent_time_to_first_token_seconds_count", agent=agent) == 1  # the call that streamed text
    assert total(samples, "myagent_tool_duration_seconds_count", agent=agent, tool="lookup", status="ok") == 1
    assert total(samples, "myagent_tool_duration_seconds_bucket", agent=agent, tool="lookup", le="+Inf") == 1


def test_counters_keep_their_attribute_interface() -> None:
    metrics = Metrics()
    metrics.connections_total += 1
    metrics.note_sent(10)
    assert metrics.connections_total == 1 and metrics.bytes_sent_total == 10
    text = metrics.render()
    assert "# HELP myagent_connections_total WebSocket connections accepted." in text
    assert "myagent_bytes_sent_total 10.0" in text
    with pytest.raises(ValueError, match="counter"):
        metrics.connections_total = 0

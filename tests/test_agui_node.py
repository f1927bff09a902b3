"""The official ``@ag-ui/client`` ``HttpAgent`` (Node.js) runs the weather agent through ``/agui``."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from myagent.cli.loader import load_agent_factory
from tests.harness import running_server

ROOT = Path(__file__).resolve().parents[1]
JS_DIR = ROOT / "tests" / "js"
SCRIPT = JS_DIR / "agui_weather.mjs"


@pytest.fixture(scope="session")
def ag_ui_client() -> Path:
    package = JS_DIR / "node_modules" / "@ag-ui" / "client" / "package.json"
    if not package.is_file():
        pytest.fail(f"{package} is missing: run `npm ci --prefix tests/js` (make test does)")
    return package


@pytest.mark.node
@pytest.mark.usefixtures("ag_ui_client")
async def test_http_agent_receives_the_text_the_tool_call_and_answers_an_interrupt() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the AG-UI client test needs Node.js 18+ (the Makefile installs it)")
    factory = load_agent_factory(ROOT / "examples" / "weather_agent.py")
    async with running_server(factory) as server:
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            f"http://127.0.0.1:{server.port}/agui",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)

    weather = report["weather"]
    assert weather["events"][0] == "RUN_STARTED" and weather["events"][-1] == "RUN_FINISHED"
    assert {"TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"} <= set(weather["events"])
    assert "TEXT_MESSAGE_CONTENT" in weather["events"]
    messages = weather["newMessages"]
    calls = [call for m in messages if m["role"] == "assistant" for call in m.get("toolCalls", [])]
    assert [call["function"]["name"] for call in calls] == ["get_weather"]
    assert json.loads(calls[0]["function"]["arguments"])["city"] == "北京"
    tool_results = [m for m in messages if m["role"] == "tool"]
    assert tool_results and "北京" in tool_results[0]["content"]
    answers = [m["content"] for m in messages if m["role"] == "assistant" and m.get("content")]
    assert answers and "北京" in answers[-1]

    assert report["confirm"]["outcome"]["type"] == "interrupt"
    (interrupt,) = report["pendingInterrupts"]
    assert interrupt["reason"] == "tool_approval"
    resumed = report["resumed"]
    assert resumed["outcome"]["type"] == "success"
    results = [m["content"] for m in resumed["newMessages"] if m["role"] == "tool"]
    assert any("订阅" in text for text in results), resumed["newMessages"]
    assert report["pendingAfter"] == []

"""End-to-end smoke tests of the server with the weather example on the offline model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.harness import Client, answer_text, events_of, running_server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "weather_agent.py"


def load_weather():
    spec = importlib.util.spec_from_file_location("weather_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_weather_question_streams_tool_call_and_answer():
    weather = load_weather()
    async with running_server(weather.create_agent) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        frames = await client.ask("北京天气怎么样？")
        names = events_of(frames)
        assert names[0] == "agent.thinking"
        assert "agent.tool_call" in names and "agent.tool_result" in names
        assert names[-1] == "agent.final_answer"
        assert "北京今天晴" in frames[-1]["content"]
        assert answer_text(frames) == frames[-1]["content"]
        seqs = [f["seq"] for f in client.frames if "seq" in f]
        assert seqs == list(range(1, len(seqs) + 1))
        await client.close()

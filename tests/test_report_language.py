"""examples/plan_solve_report.py speaks the conversation's language: a Chinese report has no English word.

Everything a console shows of the run is checked: the plan summary, each tool result, the charts
(title, the columns drawn and their label values), each solver summary and the final report.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
import websockets

from myagent.cli.loader import load_agent_factory
from tests.harness import WAIT, running_server
from tests.test_plan_solve_example import EXAMPLE

_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


async def report_frames(question: str) -> list[dict[str, Any]]:
    async with (
        running_server(load_agent_factory(EXAMPLE)) as server,
        websockets.connect(f"ws://127.0.0.1:{server.port}", proxy=None) as ws,
    ):

        async def receive() -> dict[str, Any]:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            return frame

        await receive()  # system.connected
        await ws.send(json.dumps({"event": "user.create_session"}))
        session_id = (await receive())["session_id"]
        message = {"event": "user.message", "session_id": session_id, "content": question}
        await ws.send(json.dumps(message, ensure_ascii=False))
        frames = [await receive()]
        while frames[-1]["event"] not in ("agent.final_answer", "agent.error"):
            frames.append(await receive())
        return frames


def shown_texts(frames: list[dict[str, Any]]) -> list[str]:
    """The texts a console shows of the report run (not ids, tool names or SQL, which are code)."""
    texts: list[str] = []
    for frame in frames:
        event, content, metadata = frame["event"], frame.get("content"), frame.get("metadata") or {}
        if event == "plan.completed":
            texts.append(content["plan_summary"])
        elif event == "agent.tool_call" and metadata["tool"] == "data_visual":
            args = metadata["args"]
            texts += [args["title"], args["x_field"], *args["y_fields"]]
        elif event == "agent.tool_result":
            texts.append(content)
            if metadata["tool"] == "data_visual" and metadata["status"] == "success":
                texts += [str(key) for row in metadata["data"] for key in row]
                texts += [value for row in metadata["data"] for value in row.values() if isinstance(value, str)]
        elif event == "solver.completed":
            texts.append(content["result"]["summary"])
        elif event == "agent.final_answer":
            texts.append(content)
    return texts


@pytest.mark.usefixtures("offline_env")
async def test_a_chinese_question_gets_a_report_without_english_words() -> None:
    frames = await report_frames("写一份销售报告")
    assert frames[-1]["event"] == "agent.final_answer"
    texts = shown_texts(frames)
    assert len([f for f in frames if f["event"] == "agent.tool_result"]) == 8  # every tool still ran
    english = {word for text in texts for word in _ENGLISH_WORD.findall(text)}
    assert not english, english
    assert "华东" in frames[-1]["content"] and "饼图" in frames[-1]["content"]


@pytest.mark.usefixtures("offline_env")
async def test_an_english_question_still_gets_an_english_report() -> None:
    frames = await report_frames("Write a sales report by region")
    report = frames[-1]["content"]
    assert report.startswith("# Sales report") and "East" in report
    assert not re.search(r"[\u3400-\u9fff]", report.replace("写", ""))


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)

"""The README's 30-second tour, run exactly as written on the offline model (English and Chinese READMEs).

The two ```python blocks of the tour are cut out of the README at test time: ``my_agent.py`` and the
script that streams "北京天气怎么样？" and then asks "上海呢？". The script runs in its own process
with no model endpoint configured, as a newcomer would run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "LLM_MODEL")


def tour_blocks(readme: Path) -> tuple[str, str]:
    """The tour's agent file and the script that uses it."""
    blocks = _FENCE.findall(readme.read_text(encoding="utf-8"))
    [agent] = [b for b in blocks if b.startswith("# my_agent.py")]
    [script] = [b for b in blocks if "from my_agent import create_agent" in b]
    return agent, script


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_the_readme_tour_calls_the_tool_and_remembers_the_turn(readme: str, tmp_path: Path) -> None:
    agent, script = tour_blocks(ROOT / readme)
    (tmp_path / "my_agent.py").write_text(agent, encoding="utf-8")
    (tmp_path / "tour.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in _MODEL_ENV}
    result = subprocess.run(
        [sys.executable, "tour.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the promised events, in order: a tool call for Beijing, its result, the streamed answer
    started = [line for line in lines if line.startswith("ToolCallStarted(")]
    assert len(started) == 1 and "get_weather" in started[0] and "北京" in started[0], result.stdout
    finished = next(i for i, line in enumerate(lines) if line.startswith("ToolCallFinished("))
    assert lines.index(started[0]) < finished
    assert any(line.startswith("AnswerDelta(") for line in lines[finished:])
    [answer] = [line for line in lines if line.startswith("FinalAnswer(")]
    assert "北京" in answer and "24°C" in answer
    # then the follow-up's printed answer: the tool was called again, with the new city
    follow_up = "\n".join(lines[lines.index(answer) + 1 :])
    assert "get_weather(city=上海)" in follow_up and "24°C" in follow_up, result.stdout

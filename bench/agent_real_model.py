"""Agent factory for ``bench/real_load.py``: the guide's weather agent on a real HTTP model endpoint.

The endpoint comes from the environment exactly as for users (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``, ``LLM_MODEL``; ``real_load.py`` points it at ``bench/model_server.py``).
``BENCH_MODEL_PATH`` picks the model implementation:

* ``ours`` (default): ``create_toolcall_agent`` resolves the model itself — what every user gets.
* ``sdk``: the same agent on :class:`sdk_model.SDKStreamingModel`, the ``openai`` SDK's default
  streaming path (one shared ``AsyncOpenAI``, one pydantic chunk object per SSE event), to show
  what our own decoding saves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from weather_agent import GetWeather, SubscribeWeatherAlert

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.config import LLMConfig


def create_agent() -> ToolCallAgent:
    """A fresh weather agent per session, on the model path ``BENCH_MODEL_PATH`` names."""
    llm = None
    if os.environ.get("BENCH_MODEL_PATH", "ours") == "sdk":
        from sdk_model import SDKStreamingModel

        llm = SDKStreamingModel.shared(LLMConfig.from_env())
    return create_toolcall_agent(
        tools=[GetWeather(), SubscribeWeatherAlert()],
        name="weather_agent",
        description="天气助手：查询北京、上海、广州、深圳的天气",
        llm=llm,
        max_steps=1,
    )

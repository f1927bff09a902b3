"""The agent factory and model configuration: keyword arguments, environment, .env, import hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import myagent
from myagent import create_react_agent, create_toolcall_agent
from myagent.config import LLMConfig
from myagent.llm import FunctionModel, ModelRequest, OfflineModel
from tests.test_agent_loop import make_agent

ENV_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")


# -- factory and configuration ----------------------------------------------------------------


def test_factory_rejects_unknown_keywords() -> None:
    with pytest.raises(TypeError, match="bogus"):
        create_toolcall_agent(bogus=1)  # type: ignore[call-arg]


def test_create_react_agent_is_the_same_factory() -> None:
    assert create_react_agent is create_toolcall_agent
    assert myagent.create_react_agent is create_toolcall_agent


def test_importing_myagent_has_no_side_effects(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    (tmp_path / "marker").mkdir()  # something to compare against
    before = sorted(p.name for p in tmp_path.iterdir())
    code = (
        "import sys\n"
        "import myagent, myagent.tool, myagent.agent, myagent.llm\n"
        "sys.exit(3 if 'openai' in sys.modules else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # 3 would mean the openai SDK was imported
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (*ENV_KEYS, "LLM_MODEL", "LLM_MAX_TOKENS", "LLM_TEMPERATURE", "LLM_TIMEOUT", "LLM_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_no_configuration_means_the_offline_model(clean_env: Path) -> None:
    agent = create_toolcall_agent(name="offline_agent")
    assert isinstance(agent.model, OfflineModel)
    answer = await agent.run("你好")
    assert "offline_agent" in answer
    assert "离线模式" in answer


def test_a_base_url_in_the_environment_selects_the_openai_compatible_model(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("myagent.llm.openai_compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    agent = create_toolcall_agent()
    assert type(agent.model).__name__ == "OpenAICompatibleModel"


def test_a_dotenv_file_in_the_working_directory_is_honoured(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text(
        "OPENAI_API_KEY=sk-from-dotenv\nOPENAI_API_BASE=http://dotenv.invalid/v1\nLLM_MODEL=dotenv-model\n",
        encoding="utf-8",
    )
    config = LLMConfig.from_env()
    assert (config.api_key, config.base_url, config.model) == (
        "sk-from-dotenv",
        "http://dotenv.invalid/v1",
        "dotenv-model",
    )
    assert config.is_configured
    monkeypatch.setenv("LLM_MODEL", "env-model")  # the real environment wins over .env
    assert LLMConfig.from_env().model == "env-model"


def test_config_from_an_explicit_env_mapping() -> None:
    config = LLMConfig.from_env({"OPENAI_API_BASE": "http://old-style.invalid/v1", "LLM_MAX_TOKENS": "256"})
    assert config.base_url == "http://old-style.invalid/v1"
    assert config.max_tokens == 256
    assert config.api_key is None
    assert config.is_configured
    both = LLMConfig.from_env({"OPENAI_BASE_URL": "http://new.invalid/v1", "OPENAI_API_BASE": "http://old.invalid/v1"})
    assert both.base_url == "http://new.invalid/v1"
    assert not LLMConfig.from_env({}).is_configured


def test_config_from_an_explicit_dotenv_file(clean_env: Path) -> None:
    dotenv = clean_env / "settings" / "custom.env"
    dotenv.parent.mkdir()
    dotenv.write_text("OPENAI_API_KEY=sk-custom\nLLM_TEMPERATURE=0.2\n", encoding="utf-8")
    config = LLMConfig.from_env(dotenv=dotenv)
    assert (config.api_key, config.temperature) == ("sk-custom", 0.2)
    assert not LLMConfig.from_env().is_configured  # ./.env does not exist


async def test_function_model_sees_each_request() -> None:
    def reply(request: ModelRequest) -> str:
        return f"收到 {len(request.messages)} 条消息"

    model = FunctionModel(reply)
    agent = make_agent(model)
    assert await agent.run("一") == "收到 2 条消息"  # system + user
    assert await agent.run("二") == "收到 4 条消息"

"""What ``myagent server`` checks and says before it serves: one agent built, the model in use, the URLs."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from myagent.errors import ConfigError
from myagent.llm.base import Model
from myagent.llm.offline import OfflineModel

__all__ = ["build_check_agent", "console_url", "describe_model", "find_model", "public_endpoint"]

logger = logging.getLogger(__name__)

#: Where the official SDK sends requests when no base URL is configured.
OPENAI_DEFAULT_ENDPOINT = "https://api.openai.com/v1"
#: Attributes of an agent (or of its planner/solver) that may hold its model.
_MODEL_ATTRIBUTES = ("model", "llm")


async def build_check_agent(factory: Callable[[], Any], path: str) -> Any:
    """Build one agent with ``factory`` now, so a broken agent file fails at startup, not in every session.

    Raises:
        ConfigError: the factory raised (a broken tool, a typo in the file); one line saying why.
    """
    try:
        agent = factory()
        if inspect.isawaitable(agent):
            agent = await agent
    except Exception as exc:  # anything the user's file raises: reported as one line, exit code 2
        raise ConfigError(f"{path}: cannot build an agent: {type(exc).__name__}: {exc}") from exc
    if agent is None:
        raise ConfigError(f"{path}: the agent factory returned None instead of an agent")
    return agent


def find_model(agent: Any) -> Model | None:
    """The model an agent runs on: its own, else the first one of its parts (a planner, a solver)."""
    for candidate in _candidates(agent):
        if isinstance(candidate, Model):
            return candidate
    return None


def _candidates(agent: Any) -> Iterator[Any]:
    for name in _MODEL_ATTRIBUTES:
        yield getattr(agent, name, None)
    for part in vars(agent).values() if hasattr(agent, "__dict__") else ():
        for name in _MODEL_ATTRIBUTES:
            yield getattr(part, name, None)


def describe_model(model: Model | None) -> str:
    """The model and the endpoint it talks to, for the startup log; never a key."""
    if model is None:
        return "model: none found on the agent (it brings its own)"
    if isinstance(model, OfflineModel):
        return (
            "model: OFFLINE (built-in deterministic stand-in, not an LLM; "
            "set OPENAI_API_KEY and/or OPENAI_BASE_URL to use a real model)"
        )
    from myagent.llm.openai_compatible import OpenAICompatibleModel

    endpoint = getattr(model, "base_url", None)
    if endpoint is None and isinstance(model, OpenAICompatibleModel):
        endpoint = OPENAI_DEFAULT_ENDPOINT
    where = f" at {public_endpoint(str(endpoint))}" if endpoint else f" ({type(model).__name__})"
    return f"model: {model.name}{where}"


def public_endpoint(url: str) -> str:
    """``url`` without user information, query or fragment (where keys sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def console_url(host: str, port: int) -> str:
    """The web console's address; a wildcard bind address is shown as localhost."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/ui/"

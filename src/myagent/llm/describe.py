"""Say which model an agent runs on and where its endpoint is, for startup logs; never a key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from myagent.llm.base import Model
from myagent.llm.offline import OfflineModel

__all__ = ["OPENAI_DEFAULT_ENDPOINT", "describe_model", "find_model", "public_endpoint"]

#: Where the official SDK sends requests when no base URL is configured.
OPENAI_DEFAULT_ENDPOINT = "https://api.openai.com/v1"
#: Attributes of an agent (or of its planner/solver) that may hold its model.
_MODEL_ATTRIBUTES = ("model", "llm")


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
    """``model: NAME at ENDPOINT``, or ``model: OFFLINE (…)``; user information and queries left out."""
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

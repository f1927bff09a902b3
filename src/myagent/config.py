"""Model configuration: explicit arguments, or the environment read in this one place.

Environment variables (a ``.env`` file in the working directory is read too, without
overriding variables that are already set):

==================== ==========================================================
``OPENAI_API_KEY``   API key of the OpenAI-compatible endpoint
``OPENAI_BASE_URL``  endpoint base URL (``OPENAI_API_BASE`` is accepted as well)
``LLM_MODEL``        model name (default ``gpt-4o-mini``)
``LLM_MAX_TOKENS``   maximum completion tokens per call
``LLM_TEMPERATURE``  sampling temperature
``LLM_TIMEOUT``      seconds before one request times out (default 60)
``LLM_MAX_RETRIES``  retries on rate limits, 5xx, time-outs and connection errors (default 3)
==================== ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from myagent.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "LLMConfig", "load_dotenv_values"]

_T = TypeVar("_T", int, float)

DEFAULT_MODEL = "gpt-4o-mini"

#: The variables :meth:`LLMConfig.from_env` reads.
_ENV_NAMES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "LLM_MODEL",
    "LLM_MAX_TOKENS",
    "LLM_TEMPERATURE",
    "LLM_TIMEOUT",
    "LLM_MAX_RETRIES",
)


@dataclass(frozen=True)
class LLMConfig:
    """Settings of an OpenAI-compatible endpoint.

    ``is_configured`` is false when neither an API key nor a base URL is known; the agent then
    falls back to the offline model.
    """

    api_key: str | None = None
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 60.0
    max_retries: int = 3

    @property
    def is_configured(self) -> bool:
        return bool(self.api_key or self.base_url)

    def with_overrides(self, **changes: object) -> LLMConfig:
        """Return a copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> LLMConfig:
        """Build a config from ``env`` (default: ``os.environ`` plus ``./.env``).

        Raises:
            ConfigError: a numeric variable does not parse.
        """
        if env is None:
            # Only the variables used, the process environment winning over .env: copying the
            # whole environment, then a ChainMap over it, was most of the cost of building an
            # agent per session (a server does it for every session).
            from_file = load_dotenv_values(dotenv or Path(".env"))
            environ = os.environ
            env = {name: value for name in _ENV_NAMES if (value := environ.get(name, from_file.get(name))) is not None}
        retries = _parse(env, "LLM_MAX_RETRIES", int)
        return cls(
            api_key=env.get("OPENAI_API_KEY") or None,
            base_url=env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_BASE") or None,
            model=env.get("LLM_MODEL") or DEFAULT_MODEL,
            max_tokens=_parse(env, "LLM_MAX_TOKENS", int),
            temperature=_parse(env, "LLM_TEMPERATURE", float),
            timeout=_parse(env, "LLM_TIMEOUT", float) or 60.0,
            max_retries=3 if retries is None else retries,
        )


def _parse(env: Mapping[str, str], name: str, kind: type[_T]) -> _T | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return kind(raw.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from exc


def load_dotenv_values(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines of a ``.env`` file; a missing file gives an empty dict."""
    if not os.path.isfile(path):  # os.path: a quarter of Path.is_file's cost, paid per session
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def env_value(name: str) -> str | None:
    """One environment variable (or ``.env`` entry), empty counting as unset."""
    value = os.environ.get(name) or load_dotenv_values(Path.cwd() / ".env").get(name)
    return value or None

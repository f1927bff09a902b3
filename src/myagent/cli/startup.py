"""What ``myagent server`` checks before it serves: one agent built from the file; the console's URL."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from myagent.errors import ConfigError

__all__ = ["build_check_agent", "console_url"]


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


def console_url(host: str, port: int) -> str:
    """The web console's address; a wildcard bind address is shown as localhost."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/ui/"

"""Agent factory for the benchmarks: a model that streams ``BENCH_TOKENS`` tokens as fast as it can.

Serve it with::

    .venv/bin/python -m myagent.cli.server server bench/agent_for_bench.py --port 8080

Every token is a fixed-width piece such as ``"tok042 "`` and is one ``TextDelta`` (the model is the
project's own ``FunctionModel`` with ``chunk_size`` = token width, so it yields to the event loop
once per token, like a streaming HTTP client would). No tools. ``bench/bare_server.py`` imports
:func:`bench_tokens` so the bare baseline sends exactly the same text.
"""

from __future__ import annotations

import os

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm.base import ModelRequest
from myagent.llm.testing import FunctionModel, ScriptedReply

DEFAULT_TOKENS = 200


def token_count() -> int:
    """``BENCH_TOKENS`` from the environment (default 200)."""
    return max(1, int(os.environ.get("BENCH_TOKENS", DEFAULT_TOKENS)))


def bench_tokens(count: int) -> list[str]:
    """``count`` tokens of equal width: ``tok000 ``, ``tok001 ``, … (one space each, at the end)."""
    width = max(3, len(str(count - 1)))
    return [f"tok{i:0{width}d} " for i in range(count)]


TOKENS = bench_tokens(token_count())
TEXT = "".join(TOKENS)
TOKEN_WIDTH = len(TOKENS[0])


def _reply(request: ModelRequest) -> ScriptedReply:
    return ScriptedReply(TEXT, chunk_size=TOKEN_WIDTH)


def create_agent() -> ToolCallAgent:
    """A fresh agent (and model) per session: ``FunctionModel`` records its requests, so none is shared."""
    return create_toolcall_agent(
        name="bench_agent",
        description="streams BENCH_TOKENS tokens",
        llm=FunctionModel(_reply, name="bench-tokens"),
        max_steps=1,
    )

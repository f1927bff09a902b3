"""Models: the ``Model`` interface, the OpenAI-compatible client, the offline model and test models."""

from __future__ import annotations

from myagent.llm.base import (
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from myagent.llm.http_pool import close_shared_clients
from myagent.llm.offline import OfflineModel
from myagent.llm.testing import FunctionModel, ScriptedModel, ScriptedReply, ScriptError, call

__all__ = [
    "FunctionModel",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelStreamEvent",
    "OfflineModel",
    "OpenAICompatibleModel",
    "ScriptError",
    "ScriptedModel",
    "ScriptedReply",
    "TextDelta",
    "ToolCall",
    "Usage",
    "call",
    "close_shared_clients",
]


def __getattr__(name: str) -> object:
    # aiohttp is only imported when the OpenAI-compatible model is actually used.
    if name == "OpenAICompatibleModel":
        from myagent.llm.openai_compatible import OpenAICompatibleModel

        return OpenAICompatibleModel
    raise AttributeError(name)

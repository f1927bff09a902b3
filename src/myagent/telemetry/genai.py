"""GenAI semantic-convention values: provider names and the message formats of content attributes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

__all__ = ["messages_attribute", "output_attribute", "provider_name"]

# Hosts of well-known OpenAI-compatible endpoints and the provider names the conventions use.
_PROVIDER_HOSTS = (
    ("openai.azure.com", "azure.ai.openai"),
    ("deepseek", "deepseek"),
    ("dashscope", "alibaba.dashscope"),
    ("anthropic", "anthropic"),
    ("mistral", "mistral_ai"),
    ("groq", "groq"),
    ("x.ai", "x_ai"),
    ("openai.com", "openai"),
)


def provider_name(model: Any) -> str:
    """``gen_ai.provider.name`` for ``model``: its ``provider`` attribute, the endpoint's host, or a default."""
    declared = getattr(model, "provider", None)
    if isinstance(declared, str) and declared:
        return declared
    kind = type(model).__name__
    if kind == "OfflineModel":
        return "myagent.offline"
    if kind in ("ScriptedModel", "FunctionModel"):
        return "myagent.test"
    host = urlparse(str(getattr(model, "_base_url", None) or "")).hostname or ""
    for fragment, name in _PROVIDER_HOSTS:
        if fragment in host:
            return name
    return "openai"  # an OpenAI-compatible endpoint speaks the OpenAI format


def messages_attribute(messages: Sequence[Any]) -> str:
    """``gen_ai.input.messages``: the chat history as role/parts JSON."""
    return json.dumps([_message(message) for message in messages], ensure_ascii=False, default=str)


def output_attribute(text: str, finish_reason: str, tool_calls: Sequence[Any] = ()) -> str:
    """``gen_ai.output.messages``: one assistant message with its text and tool calls."""
    parts: list[dict[str, Any]] = [{"type": "text", "content": text}] if text else []
    parts += [_tool_call_part(call) for call in tool_calls]
    message = {"role": "assistant", "parts": parts, "finish_reason": finish_reason}
    return json.dumps([message], ensure_ascii=False, default=str)


def _message(message: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.content})
    elif message.content:
        parts.append({"type": "text", "content": message.content})
    parts += [_tool_call_part(call) for call in message.tool_calls]
    return {"role": message.role, "parts": parts}


def _tool_call_part(call: Any) -> dict[str, Any]:
    try:
        arguments: Any = json.loads(call.arguments)
    except ValueError:
        arguments = call.arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}

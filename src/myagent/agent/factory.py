"""``create_toolcall_agent``: the one-call way to build an agent."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from myagent.agent.confirmation import ConfirmCallback
from myagent.agent.toolcall import ToolCallAgent
from myagent.config import LLMConfig
from myagent.llm.base import Model, ToolChoice
from myagent.llm.offline import OfflineModel
from myagent.tool.base import BaseTool
from myagent.tool.collection import ToolCollection
from myagent.tool.terminate import Terminate

__all__ = ["DEFAULT_SYSTEM_PROMPT", "create_react_agent", "create_toolcall_agent", "resolve_model"]

logger = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are {name}{about}. Use the available tools when they help; call several at once when they are "
    "independent. When you have the answer, reply to the user directly in their language."
)

_offline_warned = False


def create_toolcall_agent(
    *,
    tools: Iterable[BaseTool] | ToolCollection | None = None,
    name: str = "toolcall_agent",
    description: str = "",
    system_prompt: str | None = None,
    llm: Model | None = None,
    llm_config: LLMConfig | Mapping[str, Any] | None = None,
    max_steps: int = 10,
    tool_timeout: float | None = 120.0,
    confirm: ConfirmCallback | None = None,
    terminate_tool: bool = False,
    next_step_prompt: str | None = None,
    tool_choice: ToolChoice | None = None,
    max_observe: int | None = None,
) -> ToolCallAgent:
    """Build a tool-calling agent.

    Args:
        tools: the tools the model may call.
        name: the agent's name (also shown to clients).
        description: one line about what the agent does.
        system_prompt: replaces the default system prompt.
        llm: a ready ``Model``; wins over ``llm_config``.
        llm_config: endpoint settings (``LLMConfig`` or a dict of its fields); when both ``llm``
            and ``llm_config`` are missing the environment is read (see ``myagent.config``), and
            with no endpoint there the deterministic ``OfflineModel`` is used.
        max_steps: model calls per run before the run stops with a clear message.
        tool_timeout: seconds a tool call may take unless the tool sets its own ``timeout``.
        confirm: async callback deciding ``user_confirm`` tool calls (none: such calls are refused).
        terminate_tool: also offer the built-in ``terminate`` tool.
        next_step_prompt: a nudge sent to the model after the conversation on every step (as a
            system message, not stored in memory); older MyAgent agents used it.
        tool_choice: ``"auto"``, ``"none"`` or ``"required"``, passed to the model on every call
            (``None``: the endpoint's default).
        max_observe: tool outputs longer than this many characters are cut for the model (clients
            still get the whole result).

    Raises:
        TypeError: an unknown keyword argument (Python raises it for us).
        ValueError: ``tool_choice`` or ``max_observe`` out of range.
        ToolError: a tool is unusable (no name, duplicate name, bad schema).
    """
    collection = ToolCollection(*(tools or ()))
    if terminate_tool and "terminate" not in collection:
        collection.add(Terminate())
    about = f" ({description})" if description else ""
    model = llm or resolve_model(llm_config, agent_name=name, agent_description=description)
    config = llm_config if isinstance(llm_config, LLMConfig) else None
    return ToolCallAgent(
        name=name,
        description=description,
        model=model,
        tools=collection,
        system_prompt=system_prompt or DEFAULT_SYSTEM_PROMPT.format(name=name, about=about),
        max_steps=max_steps,
        tool_timeout=tool_timeout,
        confirm=confirm,
        max_tokens=config.max_tokens if config else None,
        temperature=config.temperature if config else None,
        next_step_prompt=next_step_prompt,
        tool_choice=tool_choice,
        max_observe=max_observe,
    )


#: The name the user's guide and older code use for the same thing.
create_react_agent = create_toolcall_agent


def resolve_model(
    config: LLMConfig | Mapping[str, Any] | None, *, agent_name: str = "MyAgent", agent_description: str = ""
) -> Model:
    """The OpenAI-compatible model for ``config`` (default: from the environment), else the offline model."""
    global _offline_warned
    if isinstance(config, Mapping):
        config = LLMConfig(**config)
    config = config or LLMConfig.from_env()
    if config.is_configured:
        from myagent.llm.openai_compatible import OpenAICompatibleModel

        return OpenAICompatibleModel.shared(config)  # one per configuration, not one per agent
    if not _offline_warned:
        _offline_warned = True
        logger.warning(
            "No model endpoint configured (set OPENAI_API_KEY and/or OPENAI_BASE_URL): "
            "agents use the built-in OFFLINE model, which only imitates an LLM."
        )
    return OfflineModel(agent_name=agent_name, agent_description=agent_description)

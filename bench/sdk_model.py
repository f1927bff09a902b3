"""The ``openai`` SDK's default streaming path as a :class:`~myagent.llm.base.Model`, for comparison.

``client.chat.completions.create(..., stream=True)`` and one ``ChatCompletionChunk`` (a pydantic
object) per SSE event: what ``OpenAICompatibleModel`` did before it decoded streams itself. One
``AsyncOpenAI`` is shared by every session (the SDK's best case: building one per session, as the
old ``resolve_model`` did, cost another ~23 ms and ~0.8 MB per session). Text only, no tool calls:
the benchmark's endpoint never streams any.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from myagent.config import LLMConfig
from myagent.llm.base import Model, ModelRequest, ModelResponse, ModelStreamEvent, TextDelta, Usage


class SDKStreamingModel(Model):
    _instance: SDKStreamingModel | None = None

    def __init__(self, config: LLMConfig) -> None:
        self.name = config.model
        self._config = config
        self._client: openai.AsyncOpenAI | None = None

    @classmethod
    def shared(cls, config: LLMConfig) -> SDKStreamingModel:
        if cls._instance is None:
            cls._instance = cls(config)
        return cls._instance

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._config.api_key or "not-needed",
                base_url=self._config.base_url,
                timeout=self._config.timeout,
                max_retries=0,
            )
        kwargs: dict[str, Any] = {"model": self.name, "messages": [m.to_dict() for m in request.messages]}
        if request.tools:
            kwargs["tools"] = [dict(tool) for tool in request.tools]
        chunks = await self._client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        usage = Usage(estimated=True)
        finish: str | None = None
        async for chunk in chunks:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    yield TextDelta(choice.delta.content)
        yield ModelResponse(text="".join(parts), usage=usage, finish_reason=finish, model=self.name)

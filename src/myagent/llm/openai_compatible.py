"""A :class:`~myagent.llm.base.Model` for any endpoint that speaks the OpenAI chat-completions API.

Built on the official ``openai`` SDK so that OpenAI itself, Azure-style gateways, vLLM, Ollama,
LM Studio and similar servers all work with one implementation. Two decisions shape this module:

* **We retry, not the SDK.** The SDK's own retries are switched off (``max_retries=0``) because
  only this layer knows whether text has already been streamed to the caller. A call is retried
  on rate limits, 5xx, time-outs and connection errors *only* while nothing has been yielded yet;
  retrying after the user saw half an answer would show that half twice.
* **This is the error boundary.** Every ``openai`` exception is translated into
  :class:`~myagent.errors.ModelError` here, so nothing above this module needs to know the SDK.
  Messages carry the HTTP status and the server's own message, never the API key.

Tool-call arguments are passed through as the raw text the model produced, even when it is not
valid JSON: the agent loop reports malformed arguments back to the model, which can then fix them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import openai

from myagent.errors import ConfigError, ModelError, ModelResponseError
from myagent.llm.base import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    estimate_tokens,
)

if TYPE_CHECKING:
    from openai.types.chat import (
        ChatCompletionChunk,
        ChatCompletionMessageParam,
        ChatCompletionToolUnionParam,
    )
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

    from myagent.config import LLMConfig

__all__ = ["OpenAICompatibleModel"]

logger = logging.getLogger(__name__)

#: Sent when no key is configured: local servers (Ollama, vLLM, LM Studio) ignore it, and the SDK
#: refuses to build a client without some key.
_PLACEHOLDER_API_KEY = "not-needed"

#: Keys shorter than this are not redacted from messages (replacing e.g. "x" would mangle them).
_MIN_REDACTED_KEY_LENGTH = 8

#: Upper bound for the server message quoted in a ModelError, so an HTML error page stays readable.
_MAX_SERVER_MESSAGE_CHARS = 500

_RETRYABLE_ERRORS: tuple[type[openai.OpenAIError], ...] = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class OpenAICompatibleModel(Model):
    """Streams chat completions with tool calls from an OpenAI-compatible endpoint.

    Safe to share between agents: each :meth:`stream` call keeps its state locally; the
    underlying HTTP client (created on first use) is shared and pools connections.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_tokens: int | None = None,
        temperature: float | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        if not model:
            raise ConfigError("model name must not be empty")
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout!r}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must not be negative, got {max_retries!r}")
        if backoff_base < 0 or backoff_max < 0:
            raise ConfigError("backoff_base and backoff_max must not be negative")
        self.name = model
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._client: openai.AsyncOpenAI | None = None

    @classmethod
    def from_config(cls, config: LLMConfig) -> OpenAICompatibleModel:
        """Build a model from an :class:`~myagent.config.LLMConfig` (the usual entry point)."""
        return cls(
            model=config.model,
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )

    @property
    def base_url(self) -> str | None:
        """The endpoint's base URL; ``None`` means the SDK's default (OpenAI's own API)."""
        return self._base_url

    def __repr__(self) -> str:
        # Deliberately without the API key.
        return f"{type(self).__name__}(model={self.name!r}, base_url={self._base_url!r})"

    def _get_client(self) -> openai.AsyncOpenAI:
        # Created lazily so that constructing a model never touches the network stack or the
        # environment, and so that it binds to the event loop that actually uses it.
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key or _PLACEHOLDER_API_KEY,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the pooled HTTP connections; the model can still be used afterwards."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """Yield :class:`TextDelta` events as they arrive, then one :class:`ModelResponse`.

        Raises:
            ModelError: the endpoint failed; ``retryable`` tells whether a later call may succeed.
            ModelResponseError: the endpoint answered something unusable (no choices, nameless
                tool call, invalid JSON in the stream).
        """
        client = self._get_client()
        attempt = 0
        while True:
            yielded = False
            assembler = _StreamAssembler()
            try:
                chunks = await client.chat.completions.create(**self._create_kwargs(request), stream=True)
                try:
                    async for chunk in chunks:
                        text = assembler.add(chunk)
                        if text:
                            yielded = True
                            yield TextDelta(text)
                finally:
                    await _close_quietly(chunks)
            except openai.OpenAIError as exc:
                error = self._translate(exc)
                if yielded or not error.retryable or attempt >= self._max_retries:
                    raise error from exc
                delay = _backoff_delay(attempt, self._backoff_base, self._backoff_max, _retry_after(exc))
                attempt += 1
                logger.warning(
                    "model %s call failed (%s); retry %d of %d in %.2fs",
                    self.name,
                    error,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            except json.JSONDecodeError as exc:
                # The SDK decodes each SSE event itself and lets a decode error escape unwrapped.
                raise ModelResponseError(f"model endpoint sent invalid JSON in its stream: {exc}") from exc
            yield assembler.finish(request, default_model=self.name)
            return

    def _create_kwargs(self, request: ModelRequest) -> dict[str, Any]:
        """Arguments for ``chat.completions.create`` except ``stream`` (kept literal for typing)."""
        messages = [message.to_dict() for message in request.messages]
        max_tokens = request.max_tokens if request.max_tokens is not None else self._max_tokens
        temperature = request.temperature if request.temperature is not None else self._temperature
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": cast("list[ChatCompletionMessageParam]", messages),
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            kwargs["tools"] = cast("list[ChatCompletionToolUnionParam]", [dict(t) for t in request.tools])
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if temperature is not None:
            kwargs["temperature"] = temperature
        return kwargs

    def _translate(self, exc: openai.OpenAIError) -> ModelError:
        """Turn an SDK exception into our ModelError, with a message safe to show and log."""
        retryable = isinstance(exc, _RETRYABLE_ERRORS)
        status_code: int | None = None
        if isinstance(exc, openai.APIStatusError):
            status_code = exc.status_code
            detail = _server_message(exc)
            message = f"model endpoint returned HTTP {status_code}"
            if detail:
                message = f"{message}: {detail}"
        elif isinstance(exc, openai.APITimeoutError):
            message = f"model endpoint timed out after {self._timeout:g}s"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            reason = f": {type(cause).__name__}: {cause}" if cause is not None else ""
            message = f"could not connect to model endpoint{reason}"
        elif isinstance(exc, openai.APIError):
            # An error event inside an otherwise successful (HTTP 200) stream.
            message = f"model endpoint reported an error: {exc.message}"
        else:
            message = f"model client error: {type(exc).__name__}: {exc}"
        return ModelError(self._redact(message), retryable=retryable, status_code=status_code)

    def _redact(self, text: str) -> str:
        key = self._api_key
        if key and len(key) >= _MIN_REDACTED_KEY_LENGTH:
            text = text.replace(key, "***")
        return text


@dataclass
class _PendingToolCall:
    """One tool call being assembled from deltas sharing the same ``index``."""

    id: str = ""
    name: str = ""
    argument_parts: list[str] = field(default_factory=list)


class _StreamAssembler:
    """Accumulates the chunks of one streamed completion into a :class:`ModelResponse`."""

    def __init__(self) -> None:
        self.saw_choice = False
        self.text_parts: list[str] = []
        self.tool_calls: dict[int, _PendingToolCall] = {}
        self.finish_reason: str | None = None
        self.model = ""
        self.usage: tuple[int, int] | None = None

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take one chunk into account; return the text it adds (may be empty)."""
        # Non-OpenAI servers sometimes omit fields; the SDK builds chunks without validation,
        # hence getattr with defaults instead of attribute access.
        model = getattr(chunk, "model", None)
        if isinstance(model, str) and model:
            self.model = model
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = (
                int(getattr(usage, "prompt_tokens", 0) or 0),
                int(getattr(usage, "completion_tokens", 0) or 0),
            )
        text = ""
        for choice in getattr(chunk, "choices", None) or ():
            if getattr(choice, "index", 0) not in (0, None):
                continue  # only the first choice is used; we never ask for n > 1
            self.saw_choice = True
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            if delta.content:
                text += delta.content
            for tool_delta in delta.tool_calls or ():
                self._add_tool_delta(tool_delta)
        if text:
            self.text_parts.append(text)
        return text

    def _add_tool_delta(self, tool_delta: ChoiceDeltaToolCall) -> None:
        index = getattr(tool_delta, "index", None)
        if index is None:
            # Some servers send each call whole, without an index: match by id or start a new one.
            index = next(
                (i for i, call in self.tool_calls.items() if tool_delta.id and call.id == tool_delta.id),
                max(self.tool_calls, default=-1) + 1,
            )
        pending = self.tool_calls.setdefault(index, _PendingToolCall())
        if tool_delta.id and not pending.id:
            pending.id = tool_delta.id
        function = tool_delta.function
        if function is None:
            return
        # Some servers repeat the full name in every chunk, a few stream it in pieces.
        if function.name and function.name != pending.name:
            pending.name += function.name
        if function.arguments:
            pending.argument_parts.append(function.arguments)

    def finish(self, request: ModelRequest, *, default_model: str) -> ModelResponse:
        """Build the final response.

        Raises:
            ModelResponseError: no choice ever arrived, or a tool call has no name.
        """
        if not self.saw_choice:
            raise ModelResponseError("model returned no choices")
        text = "".join(self.text_parts)
        calls: list[ToolCall] = []
        for index in sorted(self.tool_calls):
            pending = self.tool_calls[index]
            if not pending.name:
                raise ModelResponseError(f"model returned a tool call without a name (index {index})")
            calls.append(
                ToolCall(
                    id=pending.id or f"call_{uuid.uuid4().hex}",
                    name=pending.name,
                    arguments="".join(pending.argument_parts) or "{}",
                )
            )
        if self.usage is not None:
            usage = Usage(prompt_tokens=self.usage[0], completion_tokens=self.usage[1])
        else:
            prompt: list[Any] = [message.to_dict() for message in request.messages]
            prompt.extend(dict(tool) for tool in request.tools)
            completion = estimate_tokens(text) + sum(
                estimate_tokens(call.name) + estimate_tokens(call.arguments) for call in calls
            )
            usage = Usage(prompt_tokens=estimate_tokens(prompt), completion_tokens=completion, estimated=True)
        return ModelResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=usage,
            finish_reason=self.finish_reason,
            model=self.model or default_model,
        )


async def _close_quietly(chunks: openai.AsyncStream[ChatCompletionChunk]) -> None:
    """Release the HTTP response; a failure to close must not hide the original outcome."""
    try:
        await chunks.close()
    except Exception:  # CancelledError is a BaseException and still propagates
        logger.debug("closing the model stream failed", exc_info=True)


def _server_message(exc: openai.APIStatusError) -> str:
    """The human-readable message the server put in its error body, if any."""
    body: object = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error
        text = message if isinstance(message, str) else json.dumps(body, ensure_ascii=False, default=str)
    elif isinstance(body, str):
        text = body
    elif body is None:
        text = ""
    else:
        text = json.dumps(body, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    if len(text) > _MAX_SERVER_MESSAGE_CHARS:
        text = text[:_MAX_SERVER_MESSAGE_CHARS] + "…"
    return text


def _retry_after(exc: openai.OpenAIError) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if given."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
        if value >= 0:
            return value
    return None


def _backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt + 1``: the server's wish or exponential."""
    if retry_after is not None:
        return min(cap, retry_after)
    return float(min(cap, base * 2**attempt))

"""A :class:`~myagent.llm.base.Model` for any endpoint that speaks the OpenAI chat-completions API.

One implementation for OpenAI itself, Azure-style gateways (extra ``headers``), vLLM, Ollama,
LM Studio, llama.cpp and similar servers. It speaks HTTP itself rather than through the ``openai``
SDK: measured on the real streaming path (``docs/benchmarks.md``), the SDK spent most of a
session's CPU building one pydantic object per streamed chunk and one client per session. Here:

* **One shared client per endpoint** (:mod:`myagent.llm.http_pool`): building a model builds no
  client, no TLS context and no connection pool; connections are reused between sessions.
* **Our own stream decoding**: SSE (:mod:`myagent.llm.sse`) and one JSON decode per chunk into
  plain dicts (``orjson`` when installed: 1.1 µs a chunk against 4.0 µs for ``json``), assembled
  by :class:`~myagent.llm.assembly.StreamAssembler`. Deltas that arrive in the same network read
  are passed on as one :class:`TextDelta` (lossless: their concatenation), and the stream pauses
  for the event loop at least every ``_EVENTS_PER_PAUSE`` chunks, so a burst never stalls others.
* **We retry, and only before the first text.** Rate limits, 5xx, time-outs and connection errors
  are retried while nothing has been yielded; retrying after the user saw half an answer would
  show that half twice.
* **This is the error boundary.** Every HTTP, network and decoding failure becomes a
  :class:`~myagent.errors.ModelError` here, with the HTTP status and the server's own message,
  never the API key.

Tool-call arguments are passed through as the raw text the model produced, even when it is not
valid JSON: the agent loop reports malformed arguments back to the model, which can then fix them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from myagent.errors import ConfigError, ModelError, ModelResponseError
from myagent.llm.assembly import StreamAssembler
from myagent.llm.base import Model, ModelRequest, ModelStreamEvent, TextDelta
from myagent.llm.http_pool import Endpoint, close_endpoint, shared_client
from myagent.llm.sse import SSEDecoder, SSEError

if TYPE_CHECKING:
    from myagent.config import LLMConfig

try:  # measured: 1.1 µs per chunk against 4.0 µs for json.loads (docs/benchmarks.md)
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without its wheel
    _loads = json.loads

__all__ = ["DEFAULT_BASE_URL", "OpenAICompatibleModel"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: Sent when no key is configured: local servers (Ollama, vLLM, LM Studio) ignore it.
_PLACEHOLDER_API_KEY = "not-needed"

#: Keys shorter than this are not redacted from messages (replacing e.g. "x" would mangle them).
_MIN_REDACTED_KEY_LENGTH = 8

#: Upper bound for the server message quoted in a ModelError, so an HTML error page stays readable.
_MAX_SERVER_MESSAGE_CHARS = 500

#: Bytes of an error response we read to find the server's message.
_MAX_ERROR_BODY_BYTES = 64 * 1024

#: What is read after ``[DONE]`` (normally just the end of the chunked body) so that the
#: connection can go back to the pool; a server that sends more, or keeps the body open, only
#: costs us that connection.
_MAX_TRAILER_BYTES = 64 * 1024
_TRAILER_SECONDS = 1.0

#: Chunks decoded before the stream pauses for the event loop (a burst of buffered chunks is
#: otherwise processed without ever giving other sessions a turn).
_EVENTS_PER_PAUSE = 32

_DONE = b"[DONE]"

#: Distinct configurations whose model :meth:`OpenAICompatibleModel.shared` keeps (least recently
#: used dropped first; e.g. one configuration per user key).
_MAX_SHARED_MODELS = 64
_shared_models: dict[LLMConfig, OpenAICompatibleModel] = {}


class OpenAICompatibleModel(Model):
    """Streams chat completions with tool calls from an OpenAI-compatible endpoint.

    Cheap to build and safe to share between agents: each :meth:`stream` call keeps its state
    locally, and the HTTP client is the process-wide one for this endpoint configuration.
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
        headers: Mapping[str, str] | None = None,
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
        self._endpoint = Endpoint.of(base_url or DEFAULT_BASE_URL, api_key or _PLACEHOLDER_API_KEY, timeout, headers)
        self._url = f"{self._endpoint.base_url}/chat/completions"
        self._client_timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)

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

    @classmethod
    def shared(cls, config: LLMConfig) -> OpenAICompatibleModel:
        """The process-wide model for ``config``: agents built per session need not build one each.

        Models keep no per-call state, so one instance per configuration serves every session.
        """
        model = _shared_models.pop(config, None) or cls.from_config(config)
        _shared_models[config] = model  # most recently used last
        while len(_shared_models) > _MAX_SHARED_MODELS:
            del _shared_models[next(iter(_shared_models))]
        return model

    def __repr__(self) -> str:
        # Deliberately without the API key.
        return f"{type(self).__name__}(model={self.name!r}, base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Close the shared connections of this model's endpoint; the next call opens new ones.

        Every model of the same endpoint configuration shares them. To close every endpoint's
        client at once use :func:`myagent.llm.close_shared_clients`.
        """
        await close_endpoint(self._endpoint)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """Yield :class:`TextDelta` events as they arrive, then one :class:`ModelResponse`.

        Raises:
            ModelError: the endpoint failed; ``retryable`` tells whether a later call may succeed.
            ModelResponseError: the endpoint answered something unusable (no choices, nameless
                tool call, invalid JSON in the stream).
        """
        body = self._encode_body(request)  # once, whatever the retries
        attempt = 0
        while True:
            assembler = StreamAssembler()
            yielded = False
            retry_after: float | None = None
            try:
                async with shared_client(self._endpoint).post(
                    self._url, data=body, timeout=self._client_timeout
                ) as response:
                    if response.status >= 400:
                        retry_after = _retry_after(response.headers)
                        raise await self._status_error(response)
                    async for text in self._read_stream(response, assembler):
                        yielded = True
                        yield TextDelta(text)
            except ModelError as error:
                failure = error
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = self._translate(exc)
                failure.__cause__ = exc
            else:
                yield assembler.finish(request, default_model=self.name)
                return
            if yielded or not failure.retryable or attempt >= self._max_retries:
                raise failure
            delay = _backoff_delay(attempt, self._backoff_base, self._backoff_max, retry_after)
            attempt += 1
            logger.warning(
                "model %s call failed (%s); retry %d of %d in %.2fs",
                self.name,
                failure,
                attempt,
                self._max_retries,
                delay,
            )
            await asyncio.sleep(delay)

    def _encode_body(self, request: ModelRequest) -> bytes:
        max_tokens = request.max_tokens if request.max_tokens is not None else self._max_tokens
        temperature = request.temperature if request.temperature is not None else self._temperature
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [message.to_dict() for message in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = list(request.tools)
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        # ASCII-escaped on purpose: a lone surrogate in a message stays valid JSON and valid UTF-8.
        return json.dumps(body, separators=(",", ":")).encode("ascii")

    async def _read_stream(self, response: aiohttp.ClientResponse, assembler: StreamAssembler) -> AsyncIterator[str]:
        """Decode the event stream into ``assembler``; yield the text of each read (lossless).

        Raises:
            ModelError: the stream carried an error object.
            ModelResponseError: malformed stream.
        """
        decoder = SSEDecoder()
        since_pause = 0
        done = False
        async for data in response.content.iter_any():
            try:
                payloads = decoder.feed(data)
            except SSEError as exc:
                raise ModelResponseError(f"model endpoint sent an unusable event stream: {exc}") from exc
            texts: list[str] = []
            for payload in payloads:
                if payload.strip() == _DONE:
                    done = True
                    break
                text = assembler.add(self._decode_chunk(payload))
                assembler.saw_chunk = True
                if text:
                    texts.append(text)
                since_pause += 1
                if since_pause >= _EVENTS_PER_PAUSE:
                    if texts:
                        yield "".join(texts)
                        texts.clear()
                    since_pause = 0
                    await asyncio.sleep(0)
            if texts:
                yield "".join(texts)
            if done:
                await _drain(response.content)
                return
        if not assembler.saw_chunk and response.content_type != "text/event-stream":
            kind = response.content_type or "without a Content-Type"
            raise ModelResponseError(f"model endpoint answered {kind} instead of an event stream")

    def _decode_chunk(self, payload: bytes) -> dict[str, Any]:
        try:
            chunk = _loads(payload)
        except ValueError as exc:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
            excerpt = payload[:120].decode("utf-8", "replace")
            raise ModelResponseError(
                self._redact(f"model endpoint sent invalid JSON in its stream ({exc}): {excerpt!r}")
            ) from exc
        if not isinstance(chunk, dict):
            kind = type(chunk).__name__
            raise ModelResponseError(f"model endpoint sent a stream chunk that is not a JSON object: {kind}")
        error = chunk.get("error")
        if error:
            # An error event inside an otherwise successful (HTTP 200) stream.
            detail = _server_message(chunk) or "an error occurred during streaming"
            raise ModelError(self._redact(f"model endpoint reported an error: {detail}"))
        return chunk

    async def _status_error(self, response: aiohttp.ClientResponse) -> ModelError:
        """The ModelError for an HTTP error answer, quoting the server's message."""
        raw = await _read_bounded(response.content, _MAX_ERROR_BODY_BYTES)
        text = raw.decode("utf-8", "replace")
        try:
            body: object = json.loads(text)
        except ValueError:
            body = text
        status = response.status
        detail = _server_message(body)
        message = f"model endpoint returned HTTP {status}" + (f": {detail}" if detail else "")
        retryable = status == 429 or status >= 500
        return ModelError(self._redact(message), retryable=retryable, status_code=status)

    def _translate(self, exc: aiohttp.ClientError | TimeoutError) -> ModelError:
        """Turn a network failure into our ModelError, with a message safe to show and log."""
        if isinstance(exc, TimeoutError):
            return ModelError(f"model endpoint timed out after {self._timeout:g}s", retryable=True)
        if isinstance(exc, aiohttp.InvalidURL):
            return ModelError(self._redact(f"invalid model endpoint URL: {exc}"))
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = f"could not connect to model endpoint: {type(exc.os_error).__name__}: {exc.os_error}"
            return ModelError(self._redact(reason), retryable=True)
        return ModelError(
            self._redact(f"connection to the model endpoint failed: {type(exc).__name__}: {exc}"), retryable=True
        )

    def _redact(self, text: str) -> str:
        key = self._api_key
        if key and len(key) >= _MIN_REDACTED_KEY_LENGTH:
            text = text.replace(key, "***")
        return text


async def _drain(content: aiohttp.StreamReader) -> None:
    if content.at_eof():
        return
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with asyncio.timeout(_TRAILER_SECONDS):
            await _read_bounded(content, _MAX_TRAILER_BYTES)


async def _read_bounded(content: aiohttp.StreamReader, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        data = await content.read(limit - size)
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _server_message(body: object) -> str:
    """The human-readable message the server put in its error body, if any."""
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


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if given."""
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

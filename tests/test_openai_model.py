"""OpenAICompatibleModel through the real ``openai`` SDK against a local fake endpoint."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from myagent.config import LLMConfig
from myagent.errors import ModelError, ModelResponseError
from myagent.llm.base import Message, ModelRequest, ModelResponse, ModelStreamEvent, TextDelta, ToolCall
from myagent.llm.openai_compatible import OpenAICompatibleModel, _backoff_delay
from tests.fakes.fake_openai import FakeOpenAIServer

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

REQUEST = ModelRequest(messages=[Message("system", "Be brief."), Message("user", "What is the weather?")])

ModelFactory = Callable[..., OpenAICompatibleModel]


@pytest.fixture
async def make_model(fake_openai: FakeOpenAIServer) -> AsyncIterator[ModelFactory]:
    """Build models pointed at the fake (fast backoff) and close their HTTP clients afterwards."""
    models: list[OpenAICompatibleModel] = []

    def factory(**overrides: Any) -> OpenAICompatibleModel:
        options: dict[str, Any] = {
            "model": "fake-model",
            "base_url": fake_openai.url,
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "timeout": 10.0,
        }
        options.update(overrides)
        model = OpenAICompatibleModel(**options)
        models.append(model)
        return model

    yield factory
    for model in models:
        await model.aclose()


async def collect(model: OpenAICompatibleModel, request: ModelRequest = REQUEST) -> list[ModelStreamEvent]:
    return [event async for event in model.stream(request)]


def split_events(events: list[ModelStreamEvent]) -> tuple[list[str], ModelResponse]:
    """Text deltas and the final response, checking the response is last and unique."""
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(event, ModelResponse) for event in events[:-1])
    texts = [event.text for event in events[:-1] if isinstance(event, TextDelta)]
    return texts, events[-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- streaming --------------------------------------------------------------------------------


async def test_text_chunks_arrive_as_ordered_deltas(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_text("The weather in Paris is sunny.", chunks=4, usage=(20, 7))

    texts, response = split_events(await collect(make_model()))

    # Chunks that arrive in one network read come out as one delta: lossless, in order.
    assert 1 <= len(texts) <= 4
    assert all(texts)
    assert "".join(texts) == "The weather in Paris is sunny."
    assert response.text == "The weather in Paris is sunny."
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"
    assert response.model == "fake-model"


async def test_chunks_that_arrive_apart_are_separate_deltas(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    reply = fake_openai.add_text(["天气", "很好", "。"], hold_after=1)

    stream = make_model().stream(REQUEST)
    first = await anext(stream)
    reply.release()
    rest = [event async for event in stream]

    texts, response = split_events([first, *rest])
    assert texts[0] == "天气"  # delivered before the server sent anything else
    assert "".join(texts) == "天气很好。"
    assert response.text == "天气很好。"


async def test_request_body_has_messages_tools_and_stream_options(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_text("ok")
    request = ModelRequest(messages=REQUEST.messages, tools=[WEATHER_TOOL], max_tokens=7)

    await collect(make_model(max_tokens=100, temperature=0.5), request)

    [body] = fake_openai.requests
    assert body["model"] == "fake-model"
    assert body["messages"] == [m.to_dict() for m in REQUEST.messages]
    assert body["tools"] == [WEATHER_TOOL]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 7  # the request overrides the constructor
    assert body["temperature"] == 0.5


async def test_request_body_omits_empty_tools_and_unset_options(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_text("ok")

    await collect(make_model())

    [body] = fake_openai.requests
    assert "tools" not in body
    assert "max_tokens" not in body
    assert "temperature" not in body


async def test_placeholder_key_is_sent_when_none_configured(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_openai.add_text("ok")

    await collect(make_model(api_key=None))

    headers = {k.lower(): v for k, v in fake_openai.received[0].headers.items()}
    assert headers["authorization"] == "Bearer not-needed"
    assert headers["content-type"] == "application/json"


async def test_interleaved_tool_calls_are_assembled(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_tool_calls(
        [
            ("call_a", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
            ("call_b", "get_time", '{"timezone": "Europe/Paris"}'),
        ],
        split_args_into=4,
        interleave=True,
        usage=(30, 12),
    )

    texts, response = split_events(await collect(make_model()))

    assert texts == []
    assert response.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ToolCall("call_b", "get_time", '{"timezone": "Europe/Paris"}'),
    )
    assert response.finish_reason == "tool_calls"


async def test_text_before_tool_call_is_streamed_and_kept(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_tool_calls([("call_1", "get_weather", '{"city": "Oslo"}')], text="Let me check.")

    texts, response = split_events(await collect(make_model()))

    assert texts == ["Let me check."]
    assert response.text == "Let me check."
    assert response.tool_calls == (ToolCall("call_1", "get_weather", '{"city": "Oslo"}'),)


async def test_malformed_arguments_are_passed_through_raw(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_tool_calls([("call_1", "get_weather", '{"city": "北')], split_args_into=3)

    _, response = split_events(await collect(make_model()))

    assert response.tool_calls == (ToolCall("call_1", "get_weather", '{"city": "北'),)


async def test_missing_id_is_generated_and_empty_arguments_become_braces(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_tool_calls([(None, "list_files", "")])

    _, response = split_events(await collect(make_model()))

    [call] = response.tool_calls
    assert call.id.startswith("call_") and len(call.id) > len("call_")
    assert call.name == "list_files"
    assert call.arguments == "{}"


async def test_tool_call_without_name_is_a_response_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_tool_calls([("call_1", None, "{}")])

    with pytest.raises(ModelResponseError, match="without a name"):
        await collect(make_model())


async def test_usage_from_the_endpoint_is_reported(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_text("Sunny.", usage=(42, 3))

    _, response = split_events(await collect(make_model()))

    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (42, 3)
    assert response.usage.estimated is False


async def test_usage_is_estimated_when_the_endpoint_sends_none(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_text("It is sunny and warm in Paris today.", usage=None)

    _, response = split_events(await collect(make_model()))

    assert response.usage.estimated is True
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0


async def test_empty_choices_everywhere_is_a_response_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake-model", "choices": []}
    fake_openai.add_raw_chunks([chunk, chunk])

    with pytest.raises(ModelResponseError, match="no choices"):
        await collect(make_model())


async def test_invalid_json_in_stream_is_a_response_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_raw_chunks(["{not json"])

    with pytest.raises(ModelResponseError):
        await collect(make_model())


async def test_complete_returns_the_response(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_text("Done.", chunks=2, usage=(5, 2))

    response = await make_model().complete(REQUEST)

    assert response.text == "Done."


# -- retries and errors -----------------------------------------------------------------------


async def test_rate_limit_is_retried_once(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.add_error(429, headers={"Retry-After": "0"})
    fake_openai.add_text("ok")

    with caplog.at_level(logging.WARNING, logger="myagent.llm.openai_compatible"):
        _, response = split_events(await collect(make_model()))

    assert response.text == "ok"
    assert len(fake_openai.requests) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "429" in warnings[0].getMessage()
    assert "retry 1 of 3" in warnings[0].getMessage()


async def test_server_error_is_retried_once(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_error(500)
    fake_openai.add_text("ok")

    _, response = split_events(await collect(make_model()))

    assert response.text == "ok"
    assert len(fake_openai.requests) == 2


async def test_bad_request_is_not_retried(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_error(400, {"error": {"message": "messages must not be empty", "type": "invalid_request"}})

    with pytest.raises(ModelError) as info:
        await collect(make_model())

    assert info.value.status_code == 400
    assert info.value.retryable is False
    assert "400" in str(info.value) and "messages must not be empty" in str(info.value)
    assert len(fake_openai.requests) == 1


async def test_exhausted_retries_raise_retryable_error(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    for _ in range(3):
        fake_openai.add_error(503, "upstream overloaded")

    with pytest.raises(ModelError) as info:
        await collect(make_model(max_retries=2))

    assert info.value.retryable is True
    assert info.value.status_code == 503
    assert "upstream overloaded" in str(info.value)
    assert len(fake_openai.requests) == 3


async def test_failure_after_streamed_text_is_not_retried(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_text(["Hello ", "there, ", "friend"], disconnect_after=1)
    fake_openai.add_text("must not be requested")
    received: list[ModelStreamEvent] = []

    with pytest.raises(ModelError) as info:
        async for event in make_model().stream(REQUEST):
            received.append(event)

    assert received == [TextDelta("Hello ")]
    assert info.value.retryable is True
    assert len(fake_openai.requests) == 1


async def test_connection_drop_before_any_text_is_retried(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_tool_calls([("call_1", "get_weather", '{"city": "Rome"}')], split_args_into=3, disconnect_after=2)
    fake_openai.add_text("recovered")

    _, response = split_events(await collect(make_model()))

    assert response.text == "recovered"
    assert response.tool_calls == ()  # nothing of the broken attempt leaks into the response
    assert len(fake_openai.requests) == 2


async def test_connection_refused_is_retryable_after_retries() -> None:
    model = OpenAICompatibleModel(
        model="fake-model",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        max_retries=2,
        backoff_base=0.001,
        backoff_max=0.01,
    )
    try:
        with pytest.raises(ModelError) as info:
            await collect(model)
    finally:
        await model.aclose()

    assert info.value.retryable is True
    assert info.value.status_code is None
    assert "connect" in str(info.value)


async def test_timeout_before_first_byte_is_retried(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    first = fake_openai.add_text("never sent", hold_after=0)
    fake_openai.add_text("ok")

    _, response = split_events(await collect(make_model(timeout=1.0)))

    assert response.text == "ok"
    assert len(fake_openai.requests) == 2
    first.release()


async def test_api_key_never_appears_in_errors_or_logs(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-test-very-secret-key-123456"
    fake_openai.add_error(500, {"error": {"message": f"upstream rejected key {key}"}})
    fake_openai.add_error(401, {"error": {"message": f"Incorrect API key provided: {key}"}})

    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as info:
        await collect(make_model(api_key=key))

    assert info.value.status_code == 401
    assert info.value.retryable is False
    assert key not in str(info.value)
    assert key not in repr(make_model(api_key=key))
    assert key not in caplog.text
    assert len(fake_openai.requests) == 2


# -- cancellation and early exit --------------------------------------------------------------


async def test_cancelling_the_consumer_mid_stream_propagates(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    reply = fake_openai.add_text(["first ", "second"], hold_after=1)
    model = make_model()
    received: list[ModelStreamEvent] = []
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in model.stream(REQUEST):
            received.append(event)
            got_text.set()

    task = asyncio.create_task(consume())
    await reply.await_first_chunk()
    await asyncio.wait_for(got_text.wait(), timeout=10)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)

    assert task in done, "cancellation did not stop the stream"
    assert task.cancelled()
    assert received == [TextDelta("first ")]
    reply.release()
    await reply.await_finished()
    assert len(fake_openai.requests) == 1


async def test_consumer_stopping_early_closes_the_stream(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    reply = fake_openai.add_text(["a", "b", "c"], hold_after=1)
    fake_openai.add_text("next call works")
    model = make_model()

    stream = model.stream(REQUEST)
    assert await anext(stream) == TextDelta("a")
    await stream.aclose()  # type: ignore[attr-defined]
    reply.release()
    await reply.await_finished()

    _, response = split_events(await collect(model))
    assert response.text == "next call works"


# -- construction and helpers -----------------------------------------------------------------


def test_from_config_copies_the_settings() -> None:
    config = LLMConfig(
        api_key="sk-x",
        base_url="http://localhost:11434/v1",
        model="llama3",
        max_tokens=256,
        temperature=0.2,
        timeout=12.0,
        max_retries=5,
    )

    model = OpenAICompatibleModel.from_config(config)

    assert model.name == "llama3"
    assert model._base_url == "http://localhost:11434/v1"
    assert model._max_tokens == 256
    assert model._temperature == 0.2
    assert model._timeout == 12.0
    assert model._max_retries == 5


def test_backoff_is_exponential_capped_and_honours_retry_after() -> None:
    assert [_backoff_delay(n, 0.5, 8.0, None) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert _backoff_delay(0, 0.5, 8.0, 3.0) == 3.0
    assert _backoff_delay(0, 0.5, 8.0, 120.0) == 8.0
    assert _backoff_delay(3, 0.5, 8.0, 0.0) == 0.0


# -- the fake itself, from synchronous code ---------------------------------------------------


def test_fake_answers_non_streaming_requests_from_sync_code() -> None:
    import openai

    with FakeOpenAIServer() as srv:
        srv.add_text("plain answer", chunks=3, usage=(9, 2))
        srv.add_tool_calls([("call_1", "get_weather", '{"city": "Lima"}')])
        client = openai.OpenAI(base_url=srv.url, api_key="sk-fake", max_retries=0)
        try:
            text = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            tools = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        finally:
            client.close()

    assert text.choices[0].message.content == "plain answer"
    assert text.usage is not None and text.usage.prompt_tokens == 9
    [call] = tools.choices[0].message.tool_calls or []
    assert call.id == "call_1"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert srv.requests[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_fake_fails_loudly_on_unscripted_requests() -> None:
    import openai

    srv = FakeOpenAIServer()
    with pytest.raises(AssertionError, match="1 unexpected request"), srv:
        client = openai.OpenAI(base_url=srv.url, api_key="sk-fake", max_retries=0)
        try:
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        finally:
            client.close()

    assert srv.unexpected == 1

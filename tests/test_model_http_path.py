"""What the real model path must survive, against the real local HTTP fake endpoint.

Failures before and after the first token, malformed streams, early closes, slow first bytes,
one shared client under many sessions (one of them cancelled), and server shutdown with streams
still open.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from myagent import create_toolcall_agent
from myagent.agent.events import AnswerDelta, FinalAnswer, RunEvent, RunFailed
from myagent.config import LLMConfig
from myagent.errors import ModelError, ModelResponseError
from myagent.llm import close_shared_clients
from myagent.llm.base import Message, ModelRequest, ModelResponse, ModelStreamEvent, TextDelta
from myagent.llm.http_pool import open_client_count, shared_client
from myagent.llm.openai_compatible import OpenAICompatibleModel
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.harness import Client, running_server

REQUEST = ModelRequest(messages=[Message("user", "What is the weather?")])

ModelFactory = Callable[..., OpenAICompatibleModel]


@pytest.fixture
async def make_model(fake_openai: FakeOpenAIServer) -> AsyncIterator[ModelFactory]:
    def factory(**overrides: Any) -> OpenAICompatibleModel:
        options: dict[str, Any] = {
            "model": "fake-model",
            "base_url": fake_openai.url,
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "timeout": 10.0,
        }
        options.update(overrides)
        return OpenAICompatibleModel(**options)

    yield factory
    await close_shared_clients()


async def collect(model: OpenAICompatibleModel, request: ModelRequest = REQUEST) -> list[ModelStreamEvent]:
    return [event async for event in model.stream(request)]


async def run_agent(model: OpenAICompatibleModel, query: str) -> list[RunEvent]:
    agent = create_toolcall_agent(name="weather", llm=model)
    return [event async for event in agent.stream(query)]


# -- failures before the first token: retried, then a clear error ------------------------------


@pytest.mark.parametrize("status", [429, 500])
async def test_error_before_first_token_is_retried_then_reported(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory, status: int
) -> None:
    for _ in range(3):
        fake_openai.add_error(status, {"error": {"message": f"busy, try later ({status})"}})

    with pytest.raises(ModelError) as info:
        await collect(make_model(max_retries=2))

    assert len(fake_openai.requests) == 3  # the first try and two retries
    assert info.value.status_code == status
    assert info.value.retryable is True
    assert str(info.value) == f"model endpoint returned HTTP {status}: busy, try later ({status})"


async def test_non_json_error_page_is_quoted_briefly(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    fake_openai.add_error(502, "<html><body>" + "Bad gateway " * 200 + "</body></html>")

    with pytest.raises(ModelError) as info:
        await collect(make_model(max_retries=0))

    assert info.value.status_code == 502
    assert str(info.value).startswith("model endpoint returned HTTP 502: <html><body>Bad gateway")
    assert len(str(info.value)) < 600


# -- failures after text: no retry, a clear error, memory still valid --------------------------


async def test_reset_mid_stream_ends_the_run_with_an_error_and_memory_stays_valid(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_text(["Sunny ", "and ", "warm."], disconnect_after=1)
    fake_openai.add_text("Second question answered.")
    model = make_model()
    agent = create_toolcall_agent(name="weather", llm=model)

    events = [event async for event in agent.stream("Weather?")]

    assert [e.text for e in events if isinstance(e, AnswerDelta)] == ["Sunny "]
    [failed] = [e for e in events if isinstance(e, RunFailed)]
    assert failed.code == "MODEL_ERROR"
    assert "connection to the model endpoint failed" in failed.message
    assert len(fake_openai.requests) == 1  # never retried after text was shown
    assert [m.role for m in agent.memory] == ["user", "assistant"]
    assert agent.memory[-1].content == "Sunny  [interrupted]"

    # The conversation goes on: the next request carries the valid history.
    again = [event async for event in agent.stream("And tomorrow?")]
    assert isinstance(again[-1], FinalAnswer) and again[-1].text == "Second question answered."
    assert [m["role"] for m in fake_openai.requests[1]["messages"]] == ["system", "user", "assistant", "user"]


async def test_error_event_mid_stream_is_not_retried(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    text_chunk = {"model": "fake-model", "choices": [{"index": 0, "delta": {"content": "Half an "}}]}
    error_chunk = {"error": {"message": "upstream overloaded", "code": 500}}
    fake_openai.add_raw_chunks([text_chunk, error_chunk], hold_after=1)
    received: list[ModelStreamEvent] = []
    model = make_model()

    stream = model.stream(REQUEST)
    received.append(await anext(stream))
    fake_openai._all_replies[0].release()
    with pytest.raises(ModelError) as info:
        async for event in stream:
            received.append(event)

    assert received == [TextDelta("Half an ")]
    assert str(info.value) == "model endpoint reported an error: upstream overloaded"
    assert len(fake_openai.requests) == 1


# -- malformed streams -------------------------------------------------------------------------


async def test_malformed_sse_line_is_a_clear_error(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    good = {"model": "fake-model", "choices": [{"index": 0, "delta": {"content": "ok"}}]}
    fake_openai.add_raw_chunks([good, '{"choices": [{"delta": {"content": "broken'])

    with pytest.raises(ModelResponseError) as info:
        await collect(make_model())

    assert "invalid JSON in its stream" in str(info.value)
    assert "broken" in str(info.value)  # shows what arrived, briefly
    assert len(fake_openai.requests) == 1  # a broken stream is not retried


async def test_chunk_that_is_not_an_object_is_a_clear_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_raw_chunks(["[1, 2, 3]"])

    with pytest.raises(ModelResponseError, match="not a JSON object: list"):
        await collect(make_model())


async def test_comments_and_unknown_fields_are_ignored(fake_openai: FakeOpenAIServer, make_model: ModelFactory) -> None:
    chunk = '{"model": "fake-model", "choices": [{"index": 0, "delta": {"content": "kept"}, "finish_reason": "stop"}]}'
    # Each raw payload is sent as "data: <payload>\n\n"; a payload with newlines adds other lines.
    fake_openai.add_raw_chunks([f"{chunk}\n: keep-alive comment\nevent: message\nid: 7"])

    _, response = split_events(await collect(make_model()))

    assert response.text == "kept"


async def test_a_plain_json_answer_to_a_stream_request_is_a_clear_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    fake_openai.add_json({"choices": [{"index": 0, "message": {"role": "assistant", "content": "not streamed"}}]})

    with pytest.raises(ModelResponseError, match="answered application/json instead of an event stream"):
        await collect(make_model())


# -- early close -------------------------------------------------------------------------------


async def test_stream_closed_cleanly_without_done_keeps_what_arrived(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    pieces = [{"model": "fake-model", "choices": [{"index": 0, "delta": {"content": p}}]} for p in ("Hel", "lo")]
    fake_openai.add_raw_chunks(pieces, done=False)

    texts, response = split_events(await collect(make_model()))

    assert "".join(texts) == "Hello"
    assert response.text == "Hello"
    assert response.finish_reason is None


async def test_consumer_closing_early_leaves_the_shared_client_usable(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    reply = fake_openai.add_text(["a", "b", "c"], hold_after=1)
    fake_openai.add_text("next call works", usage=(3, 3))
    model = make_model()

    stream = model.stream(REQUEST)
    assert await anext(stream) == TextDelta("a")
    await stream.aclose()  # type: ignore[attr-defined]
    reply.release()
    await reply.await_finished()

    _, response = split_events(await collect(model))
    assert response.text == "next call works"


# -- time-outs ---------------------------------------------------------------------------------


async def test_slow_first_byte_on_every_try_is_a_timeout_error(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    replies = [fake_openai.add_text("too late", hold_after=0) for _ in range(2)]

    with pytest.raises(ModelError) as info:
        await collect(make_model(timeout=0.5, max_retries=1))

    assert str(info.value) == "model endpoint timed out after 0.5s"
    assert info.value.retryable is True
    assert len(fake_openai.requests) == 2
    for reply in replies:
        reply.release()


# -- one shared client, many sessions ----------------------------------------------------------


async def test_models_of_one_endpoint_share_one_client(make_model: ModelFactory) -> None:
    first, second = make_model(), make_model()
    other = make_model(timeout=3.0)

    assert shared_client(first._endpoint) is shared_client(second._endpoint)
    assert shared_client(other._endpoint) is not shared_client(first._endpoint)


async def test_cancelling_one_of_many_streams_leaves_the_others_intact(
    fake_openai: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    count = 6
    replies = [fake_openai.add_text([f"s{i} part one, ", f"s{i} part two."], hold_after=1) for i in range(count)]
    models = [make_model() for _ in range(count)]  # one model per session, as resolve_model makes them
    firsts = [asyncio.Event() for _ in range(count)]

    async def consume(index: int) -> list[ModelStreamEvent]:
        events: list[ModelStreamEvent] = []
        async for event in models[index].stream(REQUEST):
            events.append(event)
            firsts[index].set()
        return events

    tasks = [asyncio.create_task(consume(i)) for i in range(count)]
    await asyncio.wait_for(asyncio.gather(*(first.wait() for first in firsts)), 10)
    tasks[2].cancel()
    for reply in replies:
        reply.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[2], asyncio.CancelledError)
    texts_seen = []
    for index, result in enumerate(results):
        if index == 2:
            continue
        assert isinstance(result, list)
        texts, response = split_events(result)
        assert response.text == "".join(texts)
        texts_seen.append(response.text)
    # The fake hands out replies in arrival order: each survivor got one whole, different answer.
    expected = {f"s{i} part one, s{i} part two." for i in range(count)}
    assert len(set(texts_seen)) == count - 1 and set(texts_seen) <= expected
    assert len(fake_openai.requests) == count  # nobody retried, nothing was sent twice
    fake_openai.add_text("after the cancel")
    _, response = split_events(await collect(models[2]))
    assert response.text == "after the cancel"


# -- server shutdown with open streams ---------------------------------------------------------


async def test_server_shutdown_with_open_streams_leaves_nothing_unclosed(
    fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    replies = [fake_openai.add_text(["first words ", "never sent"], hold_after=1) for _ in range(3)]

    def factory() -> Any:
        model = OpenAICompatibleModel(model="fake-model", base_url=fake_openai.url, timeout=10.0)
        return create_toolcall_agent(name="weather", llm=model)

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        async with running_server(factory) as server:
            clients = [await Client.connect(f"ws://127.0.0.1:{server.port}") for _ in replies]
            for client in clients:
                await client.create_session()
                await client.send("user.message", session_id=client.session_id, content="Weather?")
            for client in clients:
                assert (await client.expect("agent.partial_answer"))["content"] == "first words "
            http_client = shared_client(factory().model._endpoint)  # the one the sessions stream through
            assert not http_client.closed
        # the server is shut down here, with every model stream still open
        for client in clients:
            await client.ws.close()
        for reply in replies:
            reply.release()
            await reply.await_finished()
        gc.collect()
        await asyncio.sleep(0)  # let loop-level "unclosed" reports run, if any were scheduled

    assert not [w for w in caught if "nclosed" in str(w.message)]
    assert "nclosed" not in caplog.text
    assert http_client.closed


def split_events(events: list[ModelStreamEvent]) -> tuple[list[str], ModelResponse]:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(event, ModelResponse) for event in events[:-1])
    return [e.text for e in events[:-1] if isinstance(e, TextDelta)], events[-1]


# -- nothing per session that can be done once -------------------------------------------------


async def test_building_agents_per_session_builds_no_client_and_shares_the_model(
    fake_openai: FakeOpenAIServer,
) -> None:
    config = LLMConfig(base_url=fake_openai.url, model="fake-model")

    agents = [create_toolcall_agent(name=f"session-{i}", llm_config=config) for i in range(50)]

    assert open_client_count() == 0  # no client, TLS context or pool until a model call
    assert len({id(agent.model) for agent in agents}) == 1
    fake_openai.add_text("ok")
    assert (await agents[7].run("hi")) == "ok"
    assert open_client_count() == 1
    await close_shared_clients()
    assert open_client_count() == 0

"""A session is idle as soon as its run's closing event is in the log.

The ended run's task still finishes afterwards (its last checkpoint, which may wait for a shared
store); a client that saw the answer and sends its next message at once must not get
``SESSION_BUSY`` for it.
"""

from __future__ import annotations

import asyncio

from myagent import create_toolcall_agent
from myagent.llm import ScriptedModel
from myagent.ws.options import ServerOptions
from myagent.ws.runs import start_run
from myagent.ws.session import Session
from myagent.ws.translate import Outgoing
from tests.fakes.memory_socket import in_process_server
from tests.harness import Client
from tests.test_ws_resume import Models


async def test_idle_once_the_closing_event_is_appended_while_the_run_task_still_finishes() -> None:
    log: list[str] = []

    async def append(session_id: str, out: Outgoing) -> int:
        log.append(out.event)
        return len(log)

    session = Session("s1", create_toolcall_agent(llm=ScriptedModel(["done"])), ServerOptions(), append)
    checkpoint_may_finish = asyncio.Event()
    checkpointing = asyncio.Event()

    async def slow_checkpoint(_: Session) -> None:
        checkpointing.set()
        await checkpoint_may_finish.wait()  # a shared store taking its time

    start_run(session, "hi", on_usage=lambda usage: None, on_finished=slow_checkpoint, spawn=asyncio.ensure_future)
    await checkpointing.wait()
    assert log[-1] == "agent.final_answer"
    assert session.run_task is not None and not session.run_task.done()
    assert not session.busy  # a message now starts the next run
    checkpoint_may_finish.set()
    await session.run_task


async def test_messages_sent_the_moment_each_answer_arrives_all_start_runs() -> None:
    runs = 30
    factory = Models(lambda: [f"answer {i}" for i in range(runs)])
    async with in_process_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        for i in range(runs):
            frames = await client.ask(f"question {i}")
            assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == f"answer {i}"
        await client.close()

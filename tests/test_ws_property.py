"""Property: any sequence of client frames gets documented answers, and the connection keeps working.

Frames are drawn from every client event with arbitrary fields (wrong types, huge or odd values,
ids of sessions that exist, do not, or belong to another connection). They run through the real
connection adapter, commands and service, in-process (bounded so the suite stays fast).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent import create_toolcall_agent
from myagent.llm.testing import FunctionModel
from myagent.protocol.catalog import inbound_specs
from myagent.protocol.errors import ERROR_CODES
from tests.fakes.memory_socket import in_process_server
from tests.harness import Client

EVENTS = sorted(inbound_specs())
FIELDS = ["content", "session_id", "step_id", "last_seq", "last_event_id", "resume_token", "signed_state", "metadata"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from([*FIELDS, "task_id", "tasks"]), inner),
    max_leaves=12,
)


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    frame: dict[str, Any] = {"event": draw(st.sampled_from([*EVENTS, "user.unknown", "agent.final_answer"]))}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        frame[name] = draw(st.one_of(json_values, st.sampled_from(["{own}", "{other}", "{own}:1"])))
    return frame


def agent() -> Any:
    return create_toolcall_agent(llm=FunctionModel(lambda request: "ok"), name="prop")


async def exercise(sequence: list[dict[str, Any]]) -> None:
    async with in_process_server(agent, frames_per_second=1e6, frame_burst=10**6) as server:
        other = await Client.connect(server.url)
        await other.create_session()
        client = await Client.connect(server.url)
        await client.create_session()
        names = {"{own}": client.session_id, "{other}": other.session_id, "{own}:1": f"{client.session_id}:1"}
        for frame in sequence:
            text = json.dumps(frame)
            for placeholder, value in names.items():
                text = text.replace(f'"{placeholder}"', json.dumps(value))
            await client.send_raw(text)
        # The connection still works: a new session is created and answered.
        await client.send("user.create_session")
        while (await client.recv())["event"] != "agent.session_created":
            pass
        for frame in client.frames:
            code = (frame.get("metadata") or {}).get("error_code")
            assert code is None or code in ERROR_CODES, frame
        assert not [f for f in other.frames if f["event"] in ("system.error", "agent.session_end")]  # untouched
        await client.close()
        await other.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames(), max_size=8))
def test_any_frames_get_documented_answers_and_the_connection_keeps_working(sequence: list[dict[str, Any]]) -> None:
    asyncio.run(asyncio.wait_for(exercise(sequence), 30))

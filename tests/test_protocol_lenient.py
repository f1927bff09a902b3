"""Shapes older clients send that the decoder accepts: a single task for ``user.solve_tasks``, ``approved``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import decode_frame

TASK = {"id": 1, "title": "示例页", "objective": "展示销售概览"}


def solve(content: Any) -> Any:
    return decode_frame(json.dumps({"event": "user.solve_tasks", "session_id": "s", "content": content}))


@pytest.mark.parametrize(
    "content",
    [
        {"tasks": [TASK]},  # the documented shape
        {"tasks": TASK},  # one task instead of an array
        TASK,  # the task itself as the content
        [TASK],  # a bare array of tasks
    ],
    ids=["array", "tasks-object", "content-is-the-task", "content-is-an-array"],
)
def test_solve_tasks_takes_one_task_or_many(content: Any) -> None:
    assert solve(content).get("tasks") == [TASK]


def test_a_single_task_keeps_the_question_and_summary_beside_it() -> None:
    frame = solve({"tasks": TASK, "question": "q", "plan_summary": "p"})
    assert (frame.get("tasks"), frame.get("question"), frame.get("plan_summary")) == ([TASK], "q", "p")


@pytest.mark.parametrize(
    ("content", "code"),
    [({"question": "no tasks"}, ErrorCodes.MISSING_FIELD), ({"tasks": "one"}, ErrorCodes.INVALID_FIELD)],
)
def test_solve_tasks_without_tasks_is_still_an_error(content: Any, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        solve(content)
    assert caught.value.code == code


def respond(content: Any) -> Any:
    return decode_frame(json.dumps({"event": "user.response", "session_id": "s", "step_id": "c1", "content": content}))


@pytest.mark.parametrize("answer", [True, False])
def test_approved_is_another_name_of_confirmed(answer: bool) -> None:
    assert respond({"approved": answer}).get("confirmed") is answer


def test_confirmed_wins_over_approved() -> None:
    assert respond({"confirmed": False, "approved": True}).get("confirmed") is False


def test_approved_must_be_a_boolean_like_confirmed() -> None:
    with pytest.raises(ProtocolError) as caught:
        respond({"approved": "yes"})
    assert caught.value.code == ErrorCodes.INVALID_FIELD


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "tasks", "approved"]), inner),
    max_leaves=8,
)


@given(content=_JSON)
def test_any_content_is_refused_with_a_protocol_error_or_accepted_in_the_catalog_shape(content: Any) -> None:
    try:
        tasks = solve(content).get("tasks")
    except ProtocolError:
        pass
    else:
        assert isinstance(tasks, list)
    try:
        confirmed = respond(content).get("confirmed")
    except ProtocolError:
        pass
    else:
        assert isinstance(confirmed, bool)

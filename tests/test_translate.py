"""Agent events → wire events (``myagent.ws.translate``): pure, so plain synchronous tests."""

from __future__ import annotations

from typing import Any

import pytest

from myagent.agent.events import ToolCallFinished, ToolCallStarted, ToolStatus
from myagent.plan_solve.events import SubAgentEvent
from myagent.protocol.names import AgentEvents
from myagent.tool import ToolResult
from myagent.ws.translate import Outgoing, translate

ROWS = [{"month": "Jan", "sales": 1000}, {"month": "Feb", "sales": 1200}]


def only(frames: list[Outgoing]) -> Outgoing:
    assert len(frames) == 1, frames
    return frames[0]


def finished(status: ToolStatus, result: ToolResult) -> ToolCallFinished:
    return ToolCallFinished("call_1", "data_visual", result, status, step=2, duration=0.25)


def test_a_tool_call_carries_the_visualization_guides_keys_and_the_older_ones() -> None:
    args = {"sql": "SELECT month, sales FROM t", "chart_type": "bar", "x_field": "month", "y_fields": ["sales"]}
    frame = only(translate(ToolCallStarted("call_1", "data_visual", args, step=2), "en"))
    assert frame.event == AgentEvents.TOOL_CALL and frame.step_id == "call_1"
    meta: dict[str, Any] = frame.metadata or {}
    assert (meta["tool"], meta["args"], meta["status"]) == ("data_visual", args, "running")
    assert (meta["tool_name"], meta["tool_args"], meta["call_id"]) == ("data_visual", args, "call_1")


def test_a_successful_result_is_success_with_its_data_and_a_null_error() -> None:
    frame = only(translate(finished("ok", ToolResult(output="2 rows", data=ROWS)), "en"))
    assert frame.event == AgentEvents.TOOL_RESULT and frame.step_id == "call_1"
    meta: dict[str, Any] = frame.metadata or {}
    assert (meta["tool"], meta["status"], meta["error"], meta["data"]) == ("data_visual", "success", None, ROWS)
    assert (meta["tool_name"], meta["call_id"], meta["duration_ms"]) == ("data_visual", "call_1", 250.0)
    assert "failure" not in meta


@pytest.mark.parametrize("outcome", ["error", "invalid_arguments", "unknown_tool", "timeout"])
def test_every_way_a_call_can_fail_is_failed_and_named_in_failure(outcome: ToolStatus) -> None:
    frame = only(translate(finished(outcome, ToolResult.failure("no such table: t")), "zh"))
    meta: dict[str, Any] = frame.metadata or {}
    assert (meta["status"], meta["failure"], meta["error"]) == ("failed", outcome, "no such table: t")
    assert meta["data"] is None


@pytest.mark.parametrize("outcome", ["refused", "cancelled"])
def test_refused_and_cancelled_calls_keep_their_own_status(outcome: ToolStatus) -> None:
    meta: dict[str, Any] = only(translate(finished(outcome, ToolResult.failure("not run")), "en")).metadata or {}
    assert meta["status"] == outcome and "failure" not in meta


def test_a_sub_agents_tool_events_keep_the_guides_keys_and_gain_its_task() -> None:
    event = SubAgentEvent("solver", 1, "section_solver_1", finished("ok", ToolResult(data=ROWS)))
    meta: dict[str, Any] = only(translate(event, "en")).metadata or {}
    assert (meta["tool"], meta["status"], meta["data"], meta["task_id"], meta["origin"]) == (
        "data_visual",
        "success",
        ROWS,
        1,
        "solver",
    )

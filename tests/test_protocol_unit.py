"""The protocol layer on its own: catalog, frame decoding, error table, show_content. No I/O."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from myagent.errors import ProtocolError
from myagent.protocol import catalog
from myagent.protocol.catalog import CATALOG
from myagent.protocol.envelope import create_error
from myagent.protocol.errors import ERROR_CODES, ErrorCodes
from myagent.protocol.inbound import decode_frame, requested_event
from myagent.protocol.names import (
    AgentEvents,
    AggregateEvents,
    PipelineEvents,
    PlanEvents,
    SolverEvents,
    SystemEvents,
    UserEvents,
    all_names,
)
from myagent.protocol.rules import closes_run, is_request_error
from myagent.protocol.show_content import render_show_content

FAMILIES = (UserEvents, AgentEvents, SystemEvents, PlanEvents, SolverEvents, AggregateEvents, PipelineEvents)


def declared_names() -> list[str]:
    """Every event constant of every family, duplicates kept."""
    return [
        value for family in FAMILIES for key, value in vars(family).items() if key.isupper() and isinstance(value, str)
    ]


def rejected(frame: Any) -> ProtocolError:
    """The error ``decode_frame`` raises for ``frame`` (a dict is JSON-encoded first)."""
    text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
    with pytest.raises(ProtocolError) as info:
        decode_frame(text)
    return info.value


# -- catalog ------------------------------------------------------------------------------------


def test_every_event_name_has_exactly_one_catalog_entry_and_vice_versa() -> None:
    names = declared_names()
    assert [n for n, count in Counter(names).items() if count > 1] == []
    specs = [*catalog._UP, *catalog._DOWN]
    described = [spec.name for spec in specs] + [name for name, _ in catalog._PIPELINE]
    assert [n for n, count in Counter(described).items() if count > 1] == []
    assert set(described) == set(names)
    assert set(CATALOG) == set(names) == set(all_names())
    assert len(CATALOG) == len(names)


def test_catalog_directions_follow_the_family() -> None:
    for name, spec in CATALOG.items():
        assert spec.name == name
        assert spec.direction == ("up" if name.startswith("user.") else "down"), name
        assert spec.summary, name


def test_connection_level_events_are_not_sequenced_and_session_events_are() -> None:
    for name, spec in CATALOG.items():
        if spec.direction == "down":
            assert spec.sequenced is (not name.startswith("system.")), name


def test_unavailable_events_are_exactly_the_ones_without_a_server_handler() -> None:
    from myagent.ws.commands import HANDLERS
    from myagent.ws.connection import CONNECTION_EVENTS

    for name, spec in CATALOG.items():
        if spec.direction == "up":
            assert spec.available is (name in HANDLERS or name in CONNECTION_EVENTS), name


# -- decode_frame: frame-level errors -----------------------------------------------------------


@pytest.mark.parametrize("text", ["not json", "{", "{'event': 'user.message'}", "", b"\xff\xfe"])
def test_text_that_is_not_json_is_invalid_json(text: str | bytes) -> None:
    assert rejected(text).code == ErrorCodes.INVALID_JSON


def test_deeply_nested_json_is_invalid_json_not_a_crash() -> None:
    assert rejected("[" * 100_000 + "]" * 100_000).code == ErrorCodes.INVALID_JSON
    assert rejected('{"event": "user.ack", "content": ' + "{" * 50_000).code == ErrorCodes.INVALID_JSON


def test_an_integer_too_long_to_convert_is_invalid_json_not_a_crash() -> None:
    error = rejected('{"event": "user.ack", "last_seq": ' + "9" * 5000 + "}")
    assert error.code == ErrorCodes.INVALID_JSON


@pytest.mark.parametrize("text", ["[]", '[{"event": "user.message"}]', "42", "3.5", '"user.message"', "null", "true"])
def test_json_that_is_not_an_object_is_invalid_frame(text: str) -> None:
    assert rejected(text).code == ErrorCodes.INVALID_FRAME


@pytest.mark.parametrize(
    "frame",
    [{}, {"content": "hi"}, {"event": None}, {"event": 1}, {"event": ["user.message"]}, {"event": ""}],
)
def test_missing_or_non_string_event_is_invalid_frame(frame: dict[str, Any]) -> None:
    assert rejected(frame).code == ErrorCodes.INVALID_FRAME


@pytest.mark.parametrize(
    "event",
    ["user.dance", "agent.message", "USER.MESSAGE", AgentEvents.FINAL_ANSWER, SystemEvents.CONNECTED, "plan.start"],
)
def test_unknown_events_and_server_events_sent_upstream_are_unknown_event(event: str) -> None:
    assert rejected({"event": event, "session_id": "s", "content": "x"}).code == ErrorCodes.UNKNOWN_EVENT


# -- decode_frame: fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"event": "user.message", "session_id": "s"}, "content"),
        ({"event": "user.message", "session_id": "s", "content": {"text": "hi"}}, "question"),
        ({"event": "user.response", "session_id": "s", "content": {"confirmed": True}}, "step_id"),
        ({"event": "user.response", "session_id": "s", "step_id": "c1", "content": {"message": "ok"}}, "confirmed"),
        ({"event": "user.response", "session_id": "s", "step_id": "c1"}, "confirmed"),
        ({"event": "user.reconnect", "session_id": "s"}, "resume_token"),
        ({"event": "user.reconnect_with_state"}, "signed_state"),
        ({"event": "user.solve_tasks", "session_id": "s", "content": {"question": "q"}}, "tasks"),
        ({"event": "user.cancel_task", "session_id": "s", "content": {}}, "task_id"),
    ],
)
def test_missing_required_field_is_missing_field_naming_it(frame: dict[str, Any], field: str) -> None:
    error = rejected(frame)
    assert error.code == ErrorCodes.MISSING_FIELD
    assert error.details == {"field": field}


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"event": "user.message", "session_id": "s", "content": 5}, "content"),
        ({"event": "user.message", "session_id": "s", "content": ["hi"]}, "content"),
        ({"event": "user.message", "session_id": "s", "content": {"question": 5}}, "question"),
        ({"event": "user.response", "session_id": "s", "step_id": "c1", "content": {"confirmed": "true"}}, "confirmed"),
        ({"event": "user.response", "session_id": "s", "step_id": "c1", "content": {"confirmed": 1}}, "confirmed"),
        ({"event": "user.response", "session_id": "s", "step_id": 7, "content": {"confirmed": True}}, "step_id"),
        (
            {
                "event": "user.response",
                "session_id": "s",
                "step_id": "c1",
                "content": {"confirmed": True, "message": 3},
            },
            "message",
        ),
        ({"event": "user.response", "session_id": "s", "step_id": "c1", "content": "yes"}, "content"),
        ({"event": "user.message", "session_id": 12, "content": "hi"}, "session_id"),
        ({"event": "user.message", "session_id": "", "content": "hi"}, "session_id"),
        ({"event": "user.ack", "last_seq": True}, "last_seq"),
        ({"event": "user.ack", "metadata": {"last_event_id": ["s:1"]}}, "last_event_id"),
        ({"event": "user.reconnect", "session_id": "s", "resume_token": 99}, "resume_token"),
        ({"event": "user.reconnect_with_state", "signed_state": "abc"}, "signed_state"),
    ],
)
def test_wrong_types_are_invalid_field_naming_it(frame: dict[str, Any], field: str) -> None:
    error = rejected(frame)
    assert error.code == ErrorCodes.INVALID_FIELD
    assert error.details == {"field": field}


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("", "content"),
        ("   ", "content"),
        ("\n\t ", "content"),
        ({"question": ""}, "question"),
        ({"question": " "}, "question"),
    ],
)
def test_empty_or_blank_message_is_invalid_field(content: Any, field: str) -> None:
    error = rejected({"event": "user.message", "session_id": "s", "content": content})
    assert error.code == ErrorCodes.INVALID_FIELD
    assert error.details == {"field": field}


def test_user_message_with_string_content() -> None:
    frame = decode_frame(json.dumps({"event": "user.message", "session_id": "s1", "content": "你好"}))
    assert (frame.event, frame.session_id, frame.text) == (UserEvents.MESSAGE, "s1", "你好")


def test_user_message_with_object_content_uses_question() -> None:
    frame = decode_frame(json.dumps({"event": "user.message", "content": {"question": "天气?", "extra": 1}}))
    assert frame.text == "天气?"
    assert frame.session_id is None


def test_user_response_fields() -> None:
    frame = decode_frame(
        json.dumps(
            {
                "event": "user.response",
                "session_id": "s",
                "step_id": "confirm_1_x",
                "content": {"confirmed": False, "message": "no"},
            }
        )
    )
    assert frame.step_id == "confirm_1_x"
    assert (frame.get("step_id"), frame.get("confirmed"), frame.get("message")) == ("confirm_1_x", False, "no")


@pytest.mark.parametrize(
    ("event", "name", "value", "extra"),
    [
        ("user.ack", "last_event_id", "s:3", {}),
        ("user.ack", "last_seq", 3, {}),
        ("user.reconnect", "resume_token", "tok", {"session_id": "s"}),
        ("user.reconnect", "last_event_id", "s:1", {"session_id": "s", "resume_token": "tok"}),
        ("user.reconnect", "last_seq", 0, {"session_id": "s", "resume_token": "tok"}),
        ("user.reconnect_with_state", "signed_state", {"payload": {}}, {}),
    ],
)
@pytest.mark.parametrize("placement", ["top", "content", "metadata"])
def test_lenient_fields_are_accepted_at_top_level_inside_content_or_metadata(
    event: str, name: str, value: Any, extra: dict[str, Any], placement: str
) -> None:
    frame: dict[str, Any] = {"event": event, **extra}
    if placement == "top":
        frame[name] = value
    else:
        frame[placement] = {name: value}
    if event == "user.reconnect" and name != "resume_token":
        frame["resume_token"] = "tok"
    if event == "user.reconnect_with_state" and name != "signed_state":
        frame["signed_state"] = {"payload": {}}
    assert decode_frame(json.dumps(frame)).get(name) == value


def test_unknown_extra_fields_are_ignored() -> None:
    frame = decode_frame(json.dumps({"event": "user.cancel", "session_id": "s", "timestamp": "x", "whatever": [1]}))
    assert frame.event == UserEvents.CANCEL


def test_bytes_input_is_decoded() -> None:
    assert decode_frame(json.dumps({"event": "user.create_session"}).encode()).event == UserEvents.CREATE_SESSION


def test_requested_event_names_the_event_of_a_rejected_frame() -> None:
    assert requested_event('{"event": "user.message", "content": 5}') == ("user.message", None)
    assert requested_event('{"event": "user.message", "session_id": "s1", "content": 5}') == ("user.message", "s1")
    assert requested_event('{"event": "user.nope"}') == ("user.nope", None)
    assert requested_event("not json") == (None, None)
    assert requested_event("[1]") == (None, None)
    assert requested_event('{"event": 3, "session_id": 4}') == (None, None)
    assert requested_event("[" * 100_000) == (None, None)


# -- error table --------------------------------------------------------------------------------


def test_every_error_code_is_in_the_table_with_a_description() -> None:
    codes = {value for key, value in vars(ErrorCodes).items() if key.isupper()}
    assert codes == set(ERROR_CODES)
    for code, entry in ERROR_CODES.items():
        assert entry.code == code
        assert entry.description.strip(), code


def test_create_error_builds_an_error_frame() -> None:
    frame = create_error(
        SystemEvents.ERROR, ErrorCodes.SESSION_BUSY, "busy", session_id="s", details={"a": 1}, request_event="x"
    )
    assert frame["event"] == SystemEvents.ERROR
    assert frame["session_id"] == "s"
    assert frame["content"] == "busy"
    assert frame["metadata"] == {"error_code": "SESSION_BUSY", "details": {"a": 1}, "request_event": "x"}
    assert "seq" not in frame and "event_id" not in frame


@pytest.mark.parametrize("code", ["NOPE", "", "invalid_json", "INVALID_JSON "])
def test_create_error_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(ValueError):
        create_error(SystemEvents.ERROR, code, "x")


# -- show_content -------------------------------------------------------------------------------


def test_show_content_is_chinese_by_default_and_english_on_request() -> None:
    call = {"tool_name": "get_weather", "call_id": "c1"}
    assert render_show_content(AgentEvents.TOOL_CALL, "x", call) == "调用工具：get_weather"
    assert render_show_content(AgentEvents.TOOL_CALL, "x", call, "zh") == "调用工具：get_weather"
    assert render_show_content(AgentEvents.TOOL_CALL, "x", call, "en") == "Calling tool: get_weather"

    result = {"tool_name": "get_weather", "status": "success"}
    assert render_show_content(AgentEvents.TOOL_RESULT, "sunny", result) == "工具 get_weather：完成"
    assert render_show_content(AgentEvents.TOOL_RESULT, "sunny", result, "en") == "Tool get_weather: success"
    refused = {"tool_name": "rm", "status": "refused"}
    assert "拒绝" in str(render_show_content(AgentEvents.TOOL_RESULT, "no", refused))

    assert render_show_content(AgentEvents.FINAL_ANSWER, "北京晴", {"reason": "stop"}) == "北京晴"
    assert render_show_content(AgentEvents.FINAL_ANSWER, "Sunny", {"reason": "stop"}, "en") == "Sunny"
    assert render_show_content(AgentEvents.THINKING, "x", None) == "正在思考…"
    assert render_show_content(AgentEvents.THINKING, "x", None, "en") == "Thinking…"


def test_show_content_is_none_for_deltas_and_raw_messages() -> None:
    assert render_show_content(AgentEvents.PARTIAL_ANSWER, "abc", {"step": 1}) is None
    assert render_show_content(AgentEvents.PARTIAL_ANSWER, "abc", {"step": 1}, "en") is None
    assert render_show_content(AgentEvents.LLM_MESSAGE, {"role": "user"}, {"role": "user"}) is None
    assert render_show_content(SystemEvents.HEARTBEAT, None, None) is None


def test_show_content_survives_missing_metadata_and_long_text() -> None:
    assert render_show_content(AgentEvents.TOOL_CALL, None, None) == "调用工具："
    long = render_show_content(AgentEvents.FINAL_ANSWER, "x" * 1000, None)
    assert long is not None and len(long) <= 200 and long.endswith("…")


# -- rules: request errors and run ends ------------------------------------------------------------


def test_an_unsequenced_agent_error_is_a_request_error_and_ends_no_run() -> None:
    assert is_request_error("agent.error", None) and not closes_run("agent.error", None)
    assert not is_request_error("agent.error", 4) and closes_run("agent.error", 4)
    assert is_request_error("system.error", None) and not closes_run("system.error", None)
    for name in ("agent.final_answer", "agent.interrupted", "pipeline.tasks_completed"):
        assert closes_run(name, 9) and not is_request_error(name, 9)
    assert not closes_run("agent.partial_answer", 2)


def test_agent_error_is_described_as_sequenced_or_not() -> None:
    spec = CATALOG["agent.error"]
    assert spec.sequenced and spec.request_error
    assert spec.field("request_event") is not None

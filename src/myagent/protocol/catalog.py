"""The event catalog: one description of every event, from which validation, docs and schemas derive.

Each :class:`EventSpec` says which way the event travels, whether it belongs to a session, what
its ``content`` may be and which fields it carries where (top level, ``content`` or
``metadata``). Inbound frames are validated against these specs; ``docs/protocol.md``,
``schema/events.schema.json`` and the TypeScript types are generated from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from myagent.protocol.names import (
    AgentEvents,
    AggregateEvents,
    PipelineEvents,
    PlanEvents,
    SolverEvents,
    SystemEvents,
    UserEvents,
)

__all__ = ["CATALOG", "EventSpec", "FieldSpec", "Location", "SessionRule", "spec_for"]

Location = Literal["top", "content", "metadata", "top_or_content"]
SessionRule = Literal["required", "optional", "none"]
JsonType = Literal["string", "integer", "number", "boolean", "object", "array", "null"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of an event. ``top_or_content`` fields may sit at top level, in ``content`` or in ``metadata``."""

    name: str
    types: tuple[JsonType, ...]
    where: Location
    required: bool
    description: str


@dataclass(frozen=True)
class EventSpec:
    """Everything the protocol says about one event.

    Attributes:
        direction: ``up`` for client → server, ``down`` for server → client.
        session: whether ``session_id`` is required, optional or absent.
        sequenced: downstream events that carry ``seq``/``event_id`` and are replayed after a resume.
        content_types: the JSON types ``content`` may have (empty: no content).
        available: false while the server answers the event with ``NOT_SUPPORTED``.
        request_error: a sequenced event that is also sent without ``seq`` to answer a rejected request
            (:func:`myagent.protocol.rules.is_request_error` tells the two apart).
    """

    name: str
    direction: Literal["up", "down"]
    summary: str
    session: SessionRule
    content_types: tuple[JsonType, ...] = ()
    fields: tuple[FieldSpec, ...] = ()
    sequenced: bool = False
    available: bool = True
    request_error: bool = False

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _f(name: str, types: str, where: Location, description: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, tuple(types.split("|")), where, required, description)  # type: ignore[arg-type]


_ACK_FIELDS = (
    _f(
        "last_event_id",
        "string|number",
        "top_or_content",
        "`event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`).",
    ),
    _f(
        "last_seq",
        "number|string",
        "top_or_content",
        "`seq` of the last event the client processed: a whole number or a numeric string (also accepted in "
        "`metadata`).",
    ),
)
_TASK_ID = _f("task_id", "string|integer", "content", "Id of the Plan & Solve task.", required=True)
#: Tags on the activity of a Plan & Solve sub-agent (planner, solver, aggregator).
_SUB_AGENT = (
    _f("origin", "string", "metadata", "Which Plan & Solve role produced it: planner, solver or aggregator."),
    _f("agent", "string", "metadata", "Name of the sub-agent that produced it."),
)
_TOOL_META = (
    _f("tool_name", "string", "metadata", "Name of the tool."),
    _f("call_id", "string", "metadata", "The model's tool-call id."),
    _f("task_id", "string|integer", "metadata", "Plan & Solve task the activity belongs to, if any."),
    _f("step", "integer", "metadata", "Step number within the run."),
    *_SUB_AGENT,
)
_ERROR_META = (
    _f("error_code", "string", "metadata", "A code from the error table.", required=True),
    _f("details", "object", "metadata", "Extra facts about the error (field name, limits, ranges)."),
)
_REQUEST_EVENT = _f("request_event", "string", "metadata", "The event of the rejected frame.")


def _up(
    name: str, summary: str, session: SessionRule, content: str = "", *fields: FieldSpec, available: bool = True
) -> EventSpec:
    types = tuple(content.split("|")) if content else ()
    return EventSpec(name, "up", summary, session, types, fields, available=available)  # type: ignore[arg-type]


def _down(
    name: str, summary: str, session: SessionRule, content: str = "string", *fields: FieldSpec, sequenced: bool = True
) -> EventSpec:
    types = tuple(content.split("|")) if content else ()
    return EventSpec(name, "down", summary, session, types, fields, sequenced=sequenced)  # type: ignore[arg-type]


_UP = [
    _up(
        UserEvents.CREATE_SESSION,
        "Create a session; the server answers `agent.session_created`.",
        "none",
        "string|object|null",
    ),
    _up(
        UserEvents.MESSAGE,
        "Ask the session's agent something. `content` is the text, or an object with `question`.",
        "required",
        "string|object",
        _f("question", "string", "content", "The question, when `content` is an object."),
        _f("traceparent", "string", "metadata", "W3C trace context: the run's spans continue this trace (tracing on)."),
        _f("tracestate", "string", "metadata", "W3C trace state sent with `traceparent`."),
    ),
    _up(
        UserEvents.RESPONSE,
        "Answer an `agent.user_confirm` (same `step_id`). `content.approved` is accepted as another name of "
        "`content.confirmed` (`confirmed` wins when both are sent).",
        "required",
        "object",
        _f("step_id", "string", "top", "The `step_id` of the confirmation request.", required=True),
        _f("confirmed", "boolean", "content", "true to run the tool, false to refuse.", required=True),
        _f("message", "string", "content", "Optional note from the user (passed to the model on refusal)."),
        _f("tasks", "array", "content", "Plan confirmation only: the edited task list."),
    ),
    _up(UserEvents.CANCEL, "Stop the session's active run; the server answers `agent.interrupted`.", "required"),
    _up(
        UserEvents.ACK,
        "Acknowledge delivery so the server can drop retained events.",
        "optional",
        "object|null",
        *_ACK_FIELDS,
    ),
    _up(
        UserEvents.RECONNECT,
        "Re-attach a detached session (from this or a new connection) and replay missed events.",
        "required",
        "object|null",
        _f("resume_token", "string", "top_or_content", "The token from `agent.session_created`.", required=True),
        *_ACK_FIELDS,
    ),
    _up(
        UserEvents.CLOSE_SESSION, "End the session now and free it; the server answers `agent.session_end`.", "required"
    ),
    _up(
        UserEvents.REQUEST_STATE,
        "Export the session as a signed state; answered by `agent.state_exported`.",
        "required",
    ),
    _up(
        UserEvents.RECONNECT_WITH_STATE,
        "Restore a session from a signed state; answered by `agent.state_restored`.",
        "none",
        "object|null",
        _f("signed_state", "object", "top_or_content", "The signed state from `agent.state_exported`.", required=True),
        *_ACK_FIELDS,
    ),
    _up(
        UserEvents.SOLVE_TASKS,
        "Plan & Solve: skip planning and solve these tasks. `content.tasks` may also be a single task object, "
        "and `content` may be the task itself (an object with `id`) or a bare array of tasks.",
        "required",
        "object",
        _f("tasks", "array", "content", "Tasks, each an object with an `id`.", required=True),
        _f("question", "string", "content", "Optional background question."),
        _f("plan_summary", "string", "content", "Optional plan summary."),
    ),
    _up(UserEvents.CANCEL_TASK, "Plan & Solve: cancel one task.", "required", "object", _TASK_ID),
    _up(UserEvents.RESTART_TASK, "Plan & Solve: run one task again.", "required", "object", _TASK_ID),
    _up(UserEvents.CANCEL_PLAN, "Plan & Solve: cancel planning or a plan awaiting confirmation.", "required"),
    _up(
        UserEvents.REPLAN,
        "Plan & Solve: plan again, optionally with a new question.",
        "required",
        "object|null",
        _f("question", "string", "content", "A new question to plan for."),
    ),
    _up(
        UserEvents.AUTHENTICATE,
        "Present a bearer token where headers cannot carry one (browsers): the first frame when the server "
        "requires authentication, or later to refresh a token before it expires. Accepted: `system.notice` "
        'with `action: "authenticate"`; refused: close `4401` (invalid or expired) or `4403` (another '
        "principal, or not allowed).",
        "none",
        "object",
        _f("token", "string", "content", "The bearer token (for example a JWT).", required=True),
    ),
]

_DOWN = [
    _down(
        AgentEvents.SESSION_CREATED,
        "A session exists; keep `session_id` and `metadata.resume_token`.",
        "required",
        "string",
        _f("resume_token", "string", "metadata", "Secret that lets this client resume the session.", required=True),
        _f("agent_name", "string", "metadata", "The agent's name."),
        _f("agent_description", "string", "metadata", "The agent's description."),
        _f("grace_period", "number", "metadata", "Seconds the session outlives a lost connection."),
    ),
    _down(
        AgentEvents.THINKING,
        "The agent is calling the model (one per step).",
        "required",
        "string",
        _f("step", "integer", "metadata", "Step number within the run."),
        _f("task_id", "string|integer", "metadata", "Plan & Solve task, if any."),
        *_SUB_AGENT,
    ),
    _down(
        AgentEvents.TOOL_CALL,
        "The model called a tool. `step_id` is the call's id: the `agent.tool_result` of the call has the same "
        "one. `metadata.tool`/`args`/`status` are the keys of the visualization guide; `tool_name`/`tool_args` "
        "carry the same values for older clients.",
        "required",
        "string",
        _f("tool", "string", "metadata", "Name of the tool."),
        _f("args", "object|string", "metadata", "Arguments (raw text when they were not valid JSON)."),
        _f("status", "string", "metadata", "Always `running`."),
        *_TOOL_META,
        _f("tool_args", "object|string", "metadata", "Same as `args`."),
        _f("needs_confirmation", "boolean", "metadata", "An `agent.user_confirm` follows."),
    ),
    _down(
        AgentEvents.USER_CONFIRM,
        "A tool needs the user's approval; answer with `user.response`.",
        "required",
        "string",
        _f("tool_name", "string", "metadata", "Tool to approve."),
        _f("tool_description", "string", "metadata", "What the tool does."),
        _f("tool_args", "object", "metadata", "Arguments it will run with."),
        _f("requires_confirmation", "boolean", "metadata", "Always true."),
        _f("expires_at", "string", "metadata", "ISO time after which the request counts as refused."),
        _f("timeout_seconds", "number", "metadata", "Seconds the request stays open."),
        _f("scope", "string", "metadata", "`tool`, or `plan` for a plan confirmation."),
        _f("call_id", "string", "metadata", "The model's tool-call id."),
        _f("task_id", "string|integer", "metadata", "Plan & Solve task, if any."),
        _f("resent", "boolean", "metadata", "Asked again after a resume (same `step_id`)."),
        _f("tasks", "array", "metadata", "`plan` scope: the planned tasks, editable in the answer."),
        _f("plan_summary", "string", "metadata", "`plan` scope: the planner's summary."),
        *_SUB_AGENT,
    ),
    _down(
        AgentEvents.TOOL_RESULT,
        "A tool call finished: `success`, `failed`, `refused` (the user refused the confirmation), `expired` (the "
        "confirmation expired unanswered) or `cancelled` (the run was cancelled). Same `step_id` as its "
        "`agent.tool_call`.",
        "required",
        "string",
        _f("tool", "string", "metadata", "Name of the tool."),
        _f("status", "string", "metadata", "success | failed | refused | expired | cancelled.", required=True),
        _f("error", "string|null", "metadata", "What went wrong; null when the call succeeded.", required=True),
        _f(
            "data",
            "object|array|string|number|boolean|null",
            "metadata",
            "Structured payload (chart data, table rows); null when the tool returned none.",
            required=True,
        ),
        _f(
            "failure",
            "string",
            "metadata",
            "Only with `status: failed`: error | invalid_arguments | unknown_tool | timeout | interrupted "
            "(the process running the call stopped; see `agent.run_resumed`).",
        ),
        *_TOOL_META,
        _f("base64_image", "string", "metadata", "An image the tool produced (base64)."),
        _f("duration_ms", "number", "metadata", "How long the call took."),
    ),
    _down(
        AgentEvents.PARTIAL_ANSWER,
        "A piece of the answer text; concatenate in `seq` order.",
        "required",
        "string",
        _f("step", "integer", "metadata", "Step number within the run."),
        _f("task_id", "string|integer", "metadata", "Plan & Solve task, if any."),
        *_SUB_AGENT,
    ),
    _down(
        AgentEvents.FINAL_ANSWER,
        "The run's answer; the session is idle again.",
        "required",
        "string",
        _f("reason", "string", "metadata", "stop | terminate | max_steps."),
        _f("steps", "integer", "metadata", "Model calls in this run."),
        _f("usage", "object", "metadata", "Tokens of this run: prompt_tokens, completion_tokens, total_tokens."),
        _f("duration_ms", "number", "metadata", "How long the run took."),
    ),
    _down(
        AgentEvents.LLM_MESSAGE,
        "A message added to the agent's memory (only with `send_llm_messages`).",
        "required",
        "object",
        _f("role", "string", "metadata", "Message role."),
        _f("task_id", "string|integer", "metadata", "Plan & Solve task, if any."),
        *_SUB_AGENT,
    ),
    EventSpec(
        AgentEvents.ERROR,
        "down",
        "Sequenced: the run failed and this closes it; the session is idle again and usable. Not sequenced "
        "(no `seq`/`event_id`, `metadata.request_event` set): a request that named this session was rejected "
        "and nothing changed; it closes no run. The message says how to resume a session this connection does "
        "not hold (`user.reconnect` with its resume token, or `user.reconnect_with_state`).",
        "required",
        ("string",),
        (*_ERROR_META, _REQUEST_EVENT, _f("step", "integer", "metadata", "Model calls the run made before it failed.")),
        sequenced=True,
        request_error=True,
    ),
    _down(
        AgentEvents.INTERRUPTED,
        "The run was cancelled; memory stays valid for the next message.",
        "required",
        "string",
        _f("reason", "string", "metadata", "Why the run stopped (user_cancel, session_closed, ...)."),
    ),
    _down(
        AgentEvents.SESSION_END,
        "The session is closed; its id is no longer valid.",
        "required",
        "string",
        _f("reason", "string", "metadata", "closed | expired | shutdown."),
    ),
    _down(
        AgentEvents.STATE_EXPORTED,
        "The signed session state.",
        "required",
        "string",
        _f(
            "signed_state",
            "object",
            "metadata",
            "Keep it and send it back in `user.reconnect_with_state`.",
            required=True,
        ),
        _f("state_size", "integer", "metadata", "Bytes of the signed state as canonical JSON."),
        _f("message_count", "integer", "metadata", "Messages in the saved conversation."),
        _f("current_step", "integer", "metadata", "The agent's step counter."),
        _f("encrypted", "boolean", "metadata", "Whether the state's content is encrypted."),
    ),
    _down(
        AgentEvents.CONFIRMATION_WITHDRAWN,
        "A pending `agent.user_confirm` no longer needs an answer (the run was cancelled or replanned).",
        "required",
        "string",
        _f("step_id", "string", "metadata", "The confirmation that was withdrawn.", required=True),
    ),
    _down(
        AgentEvents.RUN_RESUMED,
        "The process running this session's run stopped; another one goes on with the run from its last "
        "checkpoint (after the last completed model reply or tool result). Text deltas of `metadata.step` "
        "sent before this event are superseded: that step is answered again. The run still ends with "
        "one closing event.",
        "required",
        "string",
        _f("step", "integer", "metadata", "The step that is answered again.", required=True),
        _f(
            "interrupted_calls",
            "array",
            "metadata",
            "Ids of the tool calls that were running and are reported to the model as interrupted "
            "(an `agent.tool_result` with `status: failed`, `failure: interrupted` follows for each).",
        ),
        _f("reason", "string", "metadata", "Why: `node_lost`."),
    ),
    _down(
        AgentEvents.STATE_RESTORED,
        "A session was restored from a signed state.",
        "required",
        "string",
        _f("original_session_id", "string", "metadata", "The session the state was exported from.", required=True),
        _f("restored_step", "integer", "metadata", "The agent's step counter after the restore."),
        _f("message_count", "integer", "metadata", "Messages restored into the agent's memory."),
        _f("warnings", "array", "metadata", "What was lost or changed (trimmed turns, another agent)."),
        _f("resume_token", "string", "metadata", "Token for `user.reconnect` to this (possibly new) session."),
        _f("reattached", "boolean", "metadata", "True when the original session was still alive and re-attached."),
        _f("pending_calls", "integer", "metadata", "Tool calls that run again (confirmations are asked again)."),
        _f("agent_name", "string", "metadata", "Name of the session's agent."),
    ),
    _down(
        SystemEvents.CONNECTED,
        "First frame of every connection.",
        "none",
        "string",
        _f("connection_id", "string", "metadata", "Id of this connection.", required=True),
        _f("server_version", "string", "metadata", "myagent version."),
        _f("protocol_version", "string", "metadata", "Protocol version."),
        _f("capabilities", "array", "metadata", "Optional features this server supports."),
        _f("heartbeat_interval", "number", "metadata", "Seconds between `system.heartbeat` frames."),
        _f("max_message_bytes", "integer", "metadata", "Largest client frame the server accepts, in bytes."),
        sequenced=False,
    ),
    _down(SystemEvents.HEARTBEAT, "Keep-alive; needs no answer.", "none", "string|null", sequenced=False),
    _down(
        SystemEvents.NOTICE,
        "Acknowledges a control (`metadata.action`, `metadata.ok`) or informs.",
        "optional",
        "string",
        _f("action", "string", "metadata", "The control or happening this notice is about."),
        _f("ok", "boolean", "metadata", "Whether the control took effect."),
        _f("replay_count", "integer", "metadata", "`reconnect`: events replayed after this notice."),
        _f("last_seq", "integer", "metadata", "`reconnect`: the session's last seq when the replay was taken."),
        _f("busy", "boolean", "metadata", "`reconnect`: whether a run is in progress."),
        _f(
            "resume_token",
            "string",
            "metadata",
            "`reconnect`: the session's next resume token (the old one is spent once the client sends a "
            "frame or closes cleanly).",
        ),
        _f("principal", "string", "metadata", "`authenticate`: who the connection now acts for."),
        _f("expires_at", "number|null", "metadata", "`authenticate`: when the credentials expire (UNIX time)."),
        _f("tasks", "integer", "metadata", "`solve_tasks`: how many tasks will run."),
        _f("task_id", "string|integer", "metadata", "`cancel_task`/`restart_task`: the task."),
        _f("error", "string", "metadata", "`solve_tasks`: why the tasks were refused."),
        sequenced=False,
    ),
    _down(
        SystemEvents.ERROR,
        "A frame was rejected; nothing changed. Not replayed. A rejected frame that named a session is answered "
        "with an unsequenced `agent.error` instead (the replay gap of a resume stays a `system.error`).",
        "optional",
        "string",
        *_ERROR_META,
        _REQUEST_EVENT,
        sequenced=False,
    ),
]

_PIPELINE = [
    (PlanEvents.START, "Planning started. content: `{question}`."),
    (
        PlanEvents.COMPLETED,
        "Planning produced tasks. content: `{tasks, plan_summary, statistics}` (statistics: one entry per model "
        "call of this session's planner: origin, agent, input/output/total tokens).",
    ),
    (
        PlanEvents.CANCELLED,
        "Planning, or a plan awaiting confirmation, was cancelled or refused. content: "
        "`{question, reason}`; the run then ends with `agent.final_answer`.",
    ),
    (PlanEvents.COERCION_ERROR, "Edited or client-supplied tasks were invalid. content: `{error}`; the run ends."),
    (SolverEvents.START, "A task's solver started. content: `{task}`."),
    (
        SolverEvents.COMPLETED,
        "A task's solver finished. content: `{task, result: {output, summary, agent_name, statistics}}`.",
    ),
    (SolverEvents.FAILED, "A task's solver raised or its agent failed. content: `{task, error}`."),
    (SolverEvents.CANCELLED, "A task was cancelled (`user.cancel_task` or `user.cancel`). content: `{task}`."),
    (SolverEvents.RESTARTED, "A task is run again (`user.restart_task`); `solver.start` follows. content: `{task}`."),
    (
        AggregateEvents.START,
        "Aggregation started. content: `{context, solver_results}` (context: `{question, plan_summary, tasks}`, "
        "tasks being their number).",
    ),
    (
        AggregateEvents.COMPLETED,
        "Aggregation finished. content: `{context, solver_results, output}` (context: what was aggregated, "
        "`{question, plan_summary, tasks}` as in `aggregate.start`).",
    ),
    (
        PipelineEvents.TASKS_COMPLETED,
        "Direct task mode (`user.solve_tasks`) finished; it closes that run. content: `{total, completed, failed, "
        "cancelled}`.",
    ),
    (
        PipelineEvents.COMPLETED,
        "The pipeline finished; `agent.final_answer` follows. content: `{statistics, tasks, completed, failed, "
        "cancelled}` (statistics: every model call of this run, this session only); `metadata.statistics` "
        "holds the same statistics.",
    ),
]

_PIPELINE_FIELDS = {
    PipelineEvents.COMPLETED: (
        _f("statistics", "array", "metadata", "The run's model calls, as in `content.statistics`.", required=True),
    ),
}

CATALOG: dict[str, EventSpec] = {
    spec.name: spec
    for spec in [
        *_UP,
        *_DOWN,
        *(
            _down(
                name,
                summary,
                "required",
                "string|object",
                _f("task_id", "string|integer", "metadata", "The task, for solver events."),
                *_PIPELINE_FIELDS.get(name, ()),
            )
            for name, summary in _PIPELINE
        ),
    ]
}


def spec_for(name: str) -> EventSpec | None:
    return CATALOG.get(name)


def inbound_specs() -> Mapping[str, EventSpec]:
    return {name: spec for name, spec in CATALOG.items() if spec.direction == "up"}

"""Every event name of the MyAgent protocol, grouped by family.

These classes are the only place event names are spelled; :mod:`myagent.protocol.catalog`
describes each one, and a test checks that every name here has exactly one description.
"""

from __future__ import annotations

__all__ = [
    "AgentEvents",
    "AggregateEvents",
    "ErrorEvents",
    "PipelineEvents",
    "PlanEvents",
    "SolverEvents",
    "SystemEvents",
    "UserEvents",
]


class UserEvents:
    """Client → server."""

    CREATE_SESSION = "user.create_session"
    MESSAGE = "user.message"
    RESPONSE = "user.response"
    CANCEL = "user.cancel"
    ACK = "user.ack"
    RECONNECT = "user.reconnect"
    CLOSE_SESSION = "user.close_session"
    REQUEST_STATE = "user.request_state"
    RECONNECT_WITH_STATE = "user.reconnect_with_state"
    SOLVE_TASKS = "user.solve_tasks"
    CANCEL_TASK = "user.cancel_task"
    RESTART_TASK = "user.restart_task"
    CANCEL_PLAN = "user.cancel_plan"
    REPLAN = "user.replan"
    AUTHENTICATE = "user.authenticate"


class AgentEvents:
    """Server → client, about one session."""

    SESSION_CREATED = "agent.session_created"
    THINKING = "agent.thinking"
    TOOL_CALL = "agent.tool_call"
    USER_CONFIRM = "agent.user_confirm"
    TOOL_RESULT = "agent.tool_result"
    PARTIAL_ANSWER = "agent.partial_answer"
    FINAL_ANSWER = "agent.final_answer"
    LLM_MESSAGE = "agent.llm_message"
    ERROR = "agent.error"
    INTERRUPTED = "agent.interrupted"
    SESSION_END = "agent.session_end"
    STATE_EXPORTED = "agent.state_exported"
    STATE_RESTORED = "agent.state_restored"
    CONFIRMATION_WITHDRAWN = "agent.confirmation_withdrawn"
    RUN_RESUMED = "agent.run_resumed"


class SystemEvents:
    """Server → client, about the connection (``system.notice`` may name a session)."""

    CONNECTED = "system.connected"
    HEARTBEAT = "system.heartbeat"
    NOTICE = "system.notice"
    ERROR = "system.error"


class PlanEvents:
    """Server → client, Plan & Solve planning phase."""

    START = "plan.start"
    COMPLETED = "plan.completed"
    CANCELLED = "plan.cancelled"
    COERCION_ERROR = "plan.coercion_error"


class SolverEvents:
    """Server → client, one per task of a Plan & Solve run."""

    START = "solver.start"
    COMPLETED = "solver.completed"
    FAILED = "solver.failed"
    CANCELLED = "solver.cancelled"
    RESTARTED = "solver.restarted"


class AggregateEvents:
    """Server → client, Plan & Solve aggregation phase."""

    START = "aggregate.start"
    COMPLETED = "aggregate.completed"


class PipelineEvents:
    """Server → client, end of a whole Plan & Solve run."""

    COMPLETED = "pipeline.completed"
    TASKS_COMPLETED = "pipeline.tasks_completed"


class ErrorEvents:
    """The two error events: ``agent.error`` for a failed run, ``system.error`` for a rejected frame."""

    AGENT = AgentEvents.ERROR
    SYSTEM = SystemEvents.ERROR


def all_names() -> list[str]:
    """Every event name, in declaration order, without duplicates."""
    seen: dict[str, None] = {}
    for family in (UserEvents, AgentEvents, SystemEvents, PlanEvents, SolverEvents, AggregateEvents, PipelineEvents):
        for key, value in vars(family).items():
            if key.isupper() and isinstance(value, str):
                seen.setdefault(value, None)
    return list(seen)

"""Event names and frame helpers, at the import path the user's guide uses."""

from __future__ import annotations

from myagent.protocol.envelope import create_error, create_event
from myagent.protocol.errors import ERROR_CODES, ErrorCodes
from myagent.protocol.names import (
    AgentEvents,
    AggregateEvents,
    ErrorEvents,
    PipelineEvents,
    PlanEvents,
    SolverEvents,
    SystemEvents,
    UserEvents,
)

__all__ = [
    "ERROR_CODES",
    "AgentEvents",
    "AggregateEvents",
    "ErrorCodes",
    "ErrorEvents",
    "PipelineEvents",
    "PlanEvents",
    "SolverEvents",
    "SystemEvents",
    "UserEvents",
    "create_error",
    "create_event",
]

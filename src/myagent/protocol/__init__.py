"""The MyAgent wire protocol: event catalog, frames, validation and error codes. No I/O."""

from __future__ import annotations

from myagent.protocol.catalog import CATALOG, EventSpec, FieldSpec, spec_for
from myagent.protocol.close_codes import CLOSE_CODES, CloseCodes
from myagent.protocol.envelope import PROTOCOL_VERSION, create_error, create_event
from myagent.protocol.errors import ERROR_CODES, ErrorCodes
from myagent.protocol.inbound import InboundFrame, decode_frame
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
from myagent.protocol.show_content import render_show_content
from myagent.protocol.text import truncate_for_echo

__all__ = [
    "CATALOG",
    "CLOSE_CODES",
    "ERROR_CODES",
    "PROTOCOL_VERSION",
    "AgentEvents",
    "AggregateEvents",
    "CloseCodes",
    "ErrorCodes",
    "ErrorEvents",
    "EventSpec",
    "FieldSpec",
    "InboundFrame",
    "PipelineEvents",
    "PlanEvents",
    "SolverEvents",
    "SystemEvents",
    "UserEvents",
    "create_error",
    "create_event",
    "decode_frame",
    "render_show_content",
    "spec_for",
    "truncate_for_echo",
]

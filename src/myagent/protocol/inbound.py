"""Decoding and validating client frames against the catalog. No I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from myagent.errors import ProtocolError
from myagent.protocol.catalog import CATALOG, EventSpec, FieldSpec
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import UserEvents

__all__ = ["InboundFrame", "decode_frame", "json_type_of", "requested_event"]


@dataclass(frozen=True)
class InboundFrame:
    """A validated client frame. ``values`` holds the catalog fields found (top level or ``content``)."""

    event: str
    spec: EventSpec
    session_id: str | None = None
    step_id: str | None = None
    content: Any = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    @property
    def text(self) -> str:
        """The question of a ``user.message`` (string content or ``content.question``)."""
        if isinstance(self.content, str):
            return self.content
        return str(self.values.get("question", ""))


def json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fits(value: Any, types: tuple[str, ...]) -> bool:
    kind = json_type_of(value)
    return kind in types or (kind == "integer" and "number" in types)


def decode_frame(text: str | bytes) -> InboundFrame:
    """Parse and validate one client frame.

    Raises:
        ProtocolError: with the code from the error table that describes the first problem found.
    """
    data = _parse(text)
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCodes.INVALID_FRAME, f"frame must be a JSON object, got {json_type_of(data)}")
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise ProtocolError(ErrorCodes.INVALID_FRAME, "frame has no string field `event`")
    spec = CATALOG.get(event)
    if spec is None or spec.direction != "up":
        raise ProtocolError(ErrorCodes.UNKNOWN_EVENT, f"unknown client event {event!r}")
    return _validate(data, spec)


def requested_event(text: str | bytes) -> tuple[str | None, str | None]:
    """The ``event`` and ``session_id`` a rejected frame named (each when it was a non-empty string)."""
    try:
        data = _parse(text)
    except ProtocolError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    event, session_id = data.get("event"), data.get("session_id")
    return (
        event if isinstance(event, str) and event else None,
        session_id if isinstance(session_id, str) and session_id else None,
    )


def _parse(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and integers too long to convert;
        # RecursionError is what deeply nested arrays/objects raise. All are the client's mistake.
        raise ProtocolError(ErrorCodes.INVALID_JSON, f"frame is not valid JSON: {_brief(exc)}") from exc


def _brief(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _validate(data: dict[str, Any], spec: EventSpec) -> InboundFrame:
    session_id = _optional_string(data, "session_id")
    step_id = _optional_string(data, "step_id")
    content = data.get("content")
    if content is not None and spec.content_types and not _fits(content, spec.content_types):
        allowed = " or ".join(spec.content_types)
        raise _invalid("content", f"`content` of {spec.name} must be {allowed}, got {json_type_of(content)}")
    values: dict[str, Any] = {}
    for field_spec in spec.fields:
        found, value = _lookup(data, content, field_spec)
        if not found:
            if field_spec.required:
                raise ProtocolError(
                    ErrorCodes.MISSING_FIELD, f"{spec.name} requires `{_where(field_spec)}`"
                ).with_field(field_spec.name)
            continue
        if not _fits(value, field_spec.types):
            allowed = " or ".join(field_spec.types)
            raise _invalid(field_spec.name, f"`{_where(field_spec)}` must be {allowed}, got {json_type_of(value)}")
        values[field_spec.name] = value
    if spec.name == UserEvents.MESSAGE:
        _check_message(content, values)
    return InboundFrame(spec.name, spec, session_id, step_id, content, values)


def _lookup(data: Mapping[str, Any], content: Any, spec: FieldSpec) -> tuple[bool, Any]:
    if spec.where == "metadata":
        metadata = data.get("metadata")
        if isinstance(metadata, dict) and metadata.get(spec.name) is not None:
            return True, metadata[spec.name]
        return False, None
    if spec.where in ("top", "top_or_content") and data.get(spec.name) is not None:
        return True, data[spec.name]
    if spec.where in ("content", "top_or_content") and isinstance(content, dict) and content.get(spec.name) is not None:
        return True, content[spec.name]
    return False, None


def _where(spec: FieldSpec) -> str:
    return {"top": spec.name, "content": f"content.{spec.name}", "metadata": f"metadata.{spec.name}"}.get(
        spec.where, f"{spec.name} (or content.{spec.name})"
    )


def _optional_string(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(name, f"`{name}` must be a non-empty string, got {json_type_of(value)}")
    return value


def _check_message(content: Any, values: Mapping[str, Any]) -> None:
    if content is None:
        raise ProtocolError(ErrorCodes.MISSING_FIELD, "user.message requires `content`").with_field("content")
    text = content if isinstance(content, str) else values.get("question")
    if not isinstance(text, str):
        raise ProtocolError(
            ErrorCodes.MISSING_FIELD, "user.message with object content requires `content.question`"
        ).with_field("question")
    if not text.strip():
        raise _invalid("content" if isinstance(content, str) else "question", "user.message must not be empty")


def _invalid(name: str, message: str) -> ProtocolError:
    return ProtocolError(ErrorCodes.INVALID_FIELD, message).with_field(name)

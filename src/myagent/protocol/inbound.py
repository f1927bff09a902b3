"""Decoding and validating client frames against the catalog. No I/O."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from myagent.errors import ProtocolError
from myagent.protocol.catalog import CATALOG, EventSpec, FieldSpec
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import UserEvents
from myagent.protocol.text import find_unsafe_value, has_lone_surrogate, has_unsafe_value, truncate_for_echo

__all__ = ["MAX_ID_CHARS", "MAX_SAFE_INTEGER", "InboundFrame", "decode_frame", "json_type_of", "requested_event"]

MAX_ID_CHARS = 256
"""Longest ``session_id``/``step_id`` accepted; the server issues far shorter ones."""

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer a JavaScript client can represent exactly; catalog integer fields stay within ±this."""


@dataclass(frozen=True)
class InboundFrame:
    """A validated client frame. ``values`` holds the catalog fields found (top level, ``content`` or ``metadata``)."""

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
    if kind == "integer" and abs(value) > MAX_SAFE_INTEGER:
        return False
    return kind in types or (kind == "integer" and "number" in types)


def decode_frame(text: str | bytes) -> InboundFrame:
    """Parse and validate one client frame.

    Every string (values and keys, at any depth) must be valid Unicode and every number finite;
    the first that is not is ``INVALID_FIELD`` naming its path, so nothing behind the decoder ever
    sees a lone surrogate. Only :class:`ProtocolError` escapes, whatever ``text`` holds.

    Raises:
        ProtocolError: with the code from the error table that describes the first problem found.
    """
    data, suspicious = _parse(text)
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCodes.INVALID_FRAME, f"frame must be a JSON object, got {json_type_of(data)}")
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise ProtocolError(ErrorCodes.INVALID_FRAME, "frame has no string field `event`")
    unsafe = find_unsafe_value(data) if suspicious and has_unsafe_value(data) else None
    if unsafe is not None:
        raise _invalid(unsafe.path, f"`{unsafe.path}` holds a {unsafe.problem}: send valid Unicode and finite numbers")
    spec = CATALOG.get(event)
    if spec is None or spec.direction != "up":
        raise ProtocolError(ErrorCodes.UNKNOWN_EVENT, f"unknown client event {truncate_for_echo(event)!r}")
    return _validate(data, spec)


def requested_event(text: str | bytes) -> tuple[str | None, str | None]:
    """The ``event`` and ``session_id`` a rejected frame named, safe to echo in its error frame.

    Each is returned only when it is a non-empty string of valid Unicode, and is shortened with
    :func:`truncate_for_echo`, so an error frame never repeats more than a bounded amount of input.
    """
    try:
        data, _ = _parse(text)
    except ProtocolError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    return _echoable(data.get("event")), _echoable(data.get("session_id"))


def _echoable(value: Any) -> str | None:
    if not isinstance(value, str) or not value or has_lone_surrogate(value):
        return None
    return truncate_for_echo(value)


def _parse(text: str | bytes) -> tuple[Any, bool]:
    """The decoded value, and whether it may hold a lone surrogate or a non-finite number.

    Looking at every string of a frame costs time, so it is done only when the text could have
    produced one: an escape (a backslash: a ``\\ud800`` needs one), a raw surrogate, or a float
    literal too large to be finite. One ``in`` test for a single character is very fast.
    """
    try:
        if isinstance(text, bytes | bytearray):
            text = text.decode("utf-8")  # strict: json.loads would let encoded surrogates through
        try:
            data, non_finite = _STRICT.decode(text), False
        except _NonFiniteNumber:
            data, non_finite = _LENIENT.decode(text), True  # the walk then names the field
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and integers too long to convert;
        # RecursionError is what deeply nested arrays/objects raise. All are the client's mistake.
        raise ProtocolError(ErrorCodes.INVALID_JSON, f"frame is not valid JSON: {_brief(exc)}") from exc
    suspicious = non_finite or "\\" in text or has_lone_surrogate(text)
    return data, suspicious


class _NonFiniteNumber(Exception):
    """A float literal such as ``1e400`` that only infinity can represent."""


def _refuse_constant(name: str) -> Any:
    # Python's decoder accepts NaN and Infinity; JSON (RFC 8259) does not, and neither do clients.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NonFiniteNumber(literal)
    return value


# Built once: json.loads with keyword arguments would build a decoder for every frame.
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_LENIENT = json.JSONDecoder(parse_constant=_refuse_constant)


def _brief(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else truncate_for_echo(str(exc))


def _validate(data: dict[str, Any], spec: EventSpec) -> InboundFrame:
    session_id = _optional_string(data, "session_id")
    step_id = _optional_string(data, "step_id")
    content = _lenient_content(spec.name, data.get("content"))
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


def _lenient_content(event: str, content: Any) -> Any:
    """Shapes older clients send, rewritten to the catalog's shape before validation.

    * ``user.solve_tasks``: a single task object (``content.tasks`` as an object, or ``content``
      being the task itself, recognised by its ``id``) or a bare array of tasks.
    * ``user.response``: ``approved`` as another name of ``confirmed`` (``confirmed`` wins when both are sent).
    """
    if event == UserEvents.SOLVE_TASKS:
        if isinstance(content, list):
            return {"tasks": content}
        if isinstance(content, dict):
            tasks = content.get("tasks")
            if isinstance(tasks, dict):
                return {**content, "tasks": [tasks]}
            if tasks is None and "id" in content:
                return {"tasks": [content]}
    is_response = event == UserEvents.RESPONSE and isinstance(content, dict)
    if is_response and content.get("confirmed") is None and content.get("approved") is not None:
        return {**content, "confirmed": content["approved"]}
    return content


def _lookup(data: Mapping[str, Any], content: Any, spec: FieldSpec) -> tuple[bool, Any]:
    """A field's value: ``top_or_content`` fields are looked for at the top, in ``content``, then in ``metadata``."""
    if spec.where == "metadata":
        metadata = data.get("metadata")
        if isinstance(metadata, dict) and metadata.get(spec.name) is not None:
            return True, metadata[spec.name]
        return False, None
    if spec.where in ("top", "top_or_content") and data.get(spec.name) is not None:
        return True, data[spec.name]
    if spec.where in ("content", "top_or_content") and isinstance(content, dict) and content.get(spec.name) is not None:
        return True, content[spec.name]
    metadata = data.get("metadata")
    if spec.where == "top_or_content" and isinstance(metadata, dict) and metadata.get(spec.name) is not None:
        return True, metadata[spec.name]
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
    if len(value) > MAX_ID_CHARS:
        raise _invalid(name, f"`{name}` is longer than {MAX_ID_CHARS} characters: no such id exists")
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

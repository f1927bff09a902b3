"""Every frame a test receives is checked against ``schema/events.schema.json`` and the catalog.

The JSON Schema is generated from the catalog; on top of it, a frame may carry no top-level field and
no ``metadata`` key that the catalog does not declare for its event (an undeclared field is a wire
change no client was told about).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "schema" / "events.schema.json"

#: Envelope fields any event may carry (DESIGN.md §3).
_ENVELOPE = {"event", "timestamp", "session_id", "connection_id", "step_id", "content", "metadata"}
_ENVELOPE |= {"show_content", "seq", "event_id"}


@functools.cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator(event: str) -> jsonschema.protocols.Validator:
    schema = _schema()
    definition = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{event}"}
    return jsonschema.Draft202012Validator(definition)


def check_frame(frame: dict[str, Any]) -> None:
    """Raise ``AssertionError`` unless ``frame`` is a server event exactly as the catalog declares it."""
    event = frame.get("event")
    definitions = _schema()["$defs"]
    assert event in definitions, f"undeclared event {event!r}: {frame}"
    errors = sorted(_validator(event).iter_errors(frame), key=str)
    assert not errors, f"{event} does not match the schema: {errors[0].message} in {frame}"
    declared = definitions[event].get("properties", {})
    extra = set(frame) - _ENVELOPE - set(declared)
    assert not extra, f"{event} carries undeclared fields {sorted(extra)}: {frame}"
    metadata = frame.get("metadata")
    if isinstance(metadata, dict):
        known = set(declared.get("metadata", {}).get("properties", {}))
        unknown = set(metadata) - known
        assert not unknown, f"{event} carries undeclared metadata {sorted(unknown)}: {frame}"

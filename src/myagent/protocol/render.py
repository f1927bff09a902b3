"""Derived artefacts of the catalog: ``docs/protocol.md`` and the JSON Schema. Pure functions, no I/O.

``python -m myagent.protocol.render`` rewrites both files; a test fails when they are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from myagent.protocol.catalog import CATALOG, EventSpec, FieldSpec
from myagent.protocol.envelope import PROTOCOL_VERSION
from myagent.protocol.errors import ERROR_CODES

__all__ = ["render_json_schema", "render_markdown"]

_FAMILY_TITLES = {
    "user": "Client → server (`user.*`)",
    "agent": "Agent events (`agent.*`)",
    "system": "System events (`system.*`)",
    "plan": "Plan & Solve: planning (`plan.*`)",
    "solver": "Plan & Solve: tasks (`solver.*`)",
    "aggregate": "Plan & Solve: aggregation (`aggregate.*`)",
    "pipeline": "Plan & Solve: pipeline (`pipeline.*`)",
}

_INTRO = f"""# MyAgent WebSocket protocol (version {PROTOCOL_VERSION})

<!-- Generated from src/myagent/protocol/catalog.py by `python -m myagent.protocol.render`. Do not edit. -->

Every frame is one JSON text message holding one object:

| field | type | meaning |
|---|---|---|
| `event` | string | the event name (below) |
| `timestamp` | string | ISO 8601 time the frame was created (server: UTC, milliseconds) |
| `session_id` | string | the session the frame belongs to |
| `connection_id` | string | the connection (only where stated) |
| `step_id` | string | pairs a request with its answer (tool call id, `confirm_…` ids) |
| `content` | string or object | the payload |
| `metadata` | object | structured details |
| `show_content` | string | short human-readable text (Chinese by default, English with `language="en"`) |
| `seq` | integer | per-session sequence number (sequenced events only) |
| `event_id` | string | globally unique, stable id: `<session_id>:<seq>` (sequenced events only) |

## Delivery rules

* **Sequenced events.** Every `agent.*`, `plan.*`, `solver.*`, `aggregate.*` and `pipeline.*` event
  carries `seq` (per session, gapless, starting at 1) and `event_id`. A replayed event has the
  same `seq` and `event_id` as the first time, so a client de-duplicates by `event_id`.
* **Connection-level events** (`system.*`) carry no `seq`, are never replayed, and may name a
  session (`system.notice`, `system.error`).
* **Text deltas.** `agent.partial_answer` frames carry pieces of the answer; concatenate them in
  `seq` order. The server may merge consecutive deltas of the same step into one frame while the
  connection is behind; it never drops, reorders or renumbers text.
* **ACK.** `user.ack` with `last_event_id` (preferred) or `last_seq` lets the server drop events
  up to that point. Without ACKs the server keeps the most recent `retention_events` events
  (default 1000) and `retention_bytes` (default 1 MiB) per session.
* **Resume.** A session outlives its connection for `grace_period` seconds (default 600); its
  run goes on and its events are retained. `user.reconnect` with `session_id`, the
  `resume_token` from `agent.session_created` and the client's `last_event_id`/`last_seq`
  re-attaches the session (from the same or a new connection) and replays every event after that
  position exactly once, in order, followed by live events. A `system.notice` with
  `action: "reconnect"` and `replay_count` comes first. If events in between are no longer
  retained, a `system.error` with code `REPLAY_GAP` gives the lost range
  (`details.missing_from_seq`..`details.missing_to_seq`) before the rest is replayed. Knowing a
  session id alone is not enough: the resume token is required. A reconnect while another
  connection still holds the session moves it (that connection gets a `system.notice` with
  `action: "session_taken_over"`).
* **Confirmations.** `agent.user_confirm` pauses the run until `user.response` with the same
  `step_id` and `content.confirmed`. An unanswered request expires after `confirm_timeout`
  seconds (default 300) and counts as a refusal whose reason is given to the model and shown in
  the `agent.tool_result`. A second answer gets `STEP_ALREADY_ANSWERED`. A request the client had
  already received is sent again (new `seq`, same `step_id`, `metadata.resent: true`) after a
  resume.
* **Cancellation.** `user.cancel` stops the run during model streaming, tool execution or a
  confirmation wait and produces `agent.interrupted`. Every run ends with exactly one of
  `agent.final_answer`, `agent.error` or `agent.interrupted`.
* **Backpressure.** Each connection has one writer. A client that does not read while more than
  `outbound_queue_frames` frames (default 2000) are waiting is disconnected with close code
  `4008`; its sessions stay resumable.
* **Heartbeats.** `system.heartbeat` every `heartbeat_interval` seconds (default 30) plus
  WebSocket ping/pong (`ping_interval`/`ping_timeout`, default 20 s) to drop dead peers.

## Close codes

| code | when |
|---|---|
| 1000 | normal close |
| 1001 | the server is shutting down (runs were cancelled; sessions end) |
| 1009 | a frame larger than the transport limit (4 × `max_message_bytes`, at least 16 MiB) |
| 1011 | the peer missed WebSocket pings |
| 4008 | slow consumer: the client stopped reading; resume from a new connection |
"""


def _types(field: FieldSpec | tuple[str, ...]) -> str:
    types = field.types if isinstance(field, FieldSpec) else field
    return " \\| ".join(types)


def _where(field: FieldSpec) -> str:
    return {"top": "top level", "content": "`content`", "metadata": "`metadata`"}.get(
        field.where, "top level or `content`"
    )


def _event_section(spec: EventSpec) -> list[str]:
    lines = [f"### `{spec.name}`", "", spec.summary, ""]
    facts = [f"session_id: **{spec.session}**"]
    if spec.direction == "down":
        facts.append("sequenced (`seq`, `event_id`, replayed)" if spec.sequenced else "not sequenced")
    if spec.content_types:
        facts.append(f"content: {_types(spec.content_types)}")
    if not spec.available:
        facts.append("answered with `NOT_SUPPORTED` by this version")
    lines += ["; ".join(facts) + ".", ""]
    if spec.fields:
        lines += ["| field | where | type | required | meaning |", "|---|---|---|---|---|"]
        for field in spec.fields:
            required = "yes" if field.required else ""
            lines.append(f"| `{field.name}` | {_where(field)} | {_types(field)} | {required} | {field.description} |")
        lines.append("")
    return lines


def render_markdown() -> str:
    lines = [_INTRO]
    for family, title in _FAMILY_TITLES.items():
        specs = [spec for spec in CATALOG.values() if spec.family == family]
        lines += [f"## {title}", ""]
        for spec in specs:
            lines += _event_section(spec)
    lines += [
        "## Error codes",
        "",
        "Sent in `metadata.error_code` of `system.error` (a rejected frame) or `agent.error` (a failed run).",
        "",
        "| code | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{entry.code}` | {entry.description} |" for entry in ERROR_CODES.values()]
    return "\n".join(lines).rstrip() + "\n"


def _field_schema(field: FieldSpec) -> dict[str, Any]:
    types = list(field.types)
    return {"type": types[0] if len(types) == 1 else types, "description": field.description}


def _event_schema(spec: EventSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {"event": {"const": spec.name}, "timestamp": {"type": "string"}}
    required = ["event"]
    if spec.session != "none":
        properties["session_id"] = {"type": "string"}
        if spec.session == "required" and spec.direction == "down":
            required.append("session_id")
    if spec.content_types:
        types = list(spec.content_types)
        properties["content"] = {"type": types[0] if len(types) == 1 else types}
    metadata = {f.name: _field_schema(f) for f in spec.fields if f.where == "metadata"}
    content = {f.name: _field_schema(f) for f in spec.fields if f.where in ("content", "top_or_content")}
    for field in spec.fields:
        if field.where in ("top", "top_or_content"):
            properties[field.name] = _field_schema(field)
            if field.required and field.where == "top":
                required.append(field.name)
    if metadata:
        properties["metadata"] = {"type": "object", "properties": metadata}
    if content and "object" in spec.content_types:
        properties["content"] = {"type": list(spec.content_types), "properties": content}
    if spec.direction == "down" and spec.sequenced:
        properties["seq"] = {"type": "integer", "minimum": 1}
        properties["event_id"] = {"type": "string"}
        required += ["seq", "event_id"]
    properties["show_content"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": required, "description": spec.summary}


def render_json_schema() -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"MyAgent WebSocket protocol {PROTOCOL_VERSION}",
        "$defs": {spec.name: _event_schema(spec) for spec in CATALOG.values()},
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in CATALOG],
        "x-error-codes": {code: entry.description for code, entry in ERROR_CODES.items()},
    }
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


OUTPUTS = {"docs/protocol.md": render_markdown, "schema/events.schema.json": render_json_schema}


def main(argv: list[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` only report whether they are current."""
    args = list(argv or [])
    check = "--check" in args
    root = Path(next((a for a in args if not a.startswith("--")), "."))
    stale = []
    for relative, render in OUTPUTS.items():
        path = root / relative
        text = render()
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for relative in stale:
        print(f"{relative} is stale: run `python -m myagent.protocol.render`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Derived artefacts of the catalog: ``docs/protocol.md``, the JSON Schema and the TypeScript types.

Pure functions, no I/O. ``python -m myagent.protocol.render`` rewrites the files; a test fails when
they are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from myagent.protocol.catalog import CATALOG, EventSpec, FieldSpec
from myagent.protocol.close_codes import CLOSE_CODES, HANDSHAKE_REFUSALS
from myagent.protocol.envelope import PROTOCOL_VERSION
from myagent.protocol.errors import ERROR_CODES
from myagent.protocol.render_js import render_typescript_protocol
from myagent.protocol.rules import RUN_CLOSING_EVENTS, notice_actions, tool_statuses

__all__ = ["OUTPUTS", "render_json_schema", "render_markdown", "render_typescript"]

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
* **Request errors.** A rejected frame changes nothing and is answered with one unsequenced error
  naming it in `metadata.request_event`, with the code in `metadata.error_code`. When the frame
  named a session (`session_id`), that error is an `agent.error` with the same `session_id` and no
  `seq`; for a session this connection does not hold, its message says how to resume it
  (`user.reconnect` with the resume token, or `user.reconnect_with_state`). Otherwise it is a
  `system.error`. Only a *sequenced* `agent.error` ends a run: a client tells the two apart by
  `seq` (`protocol.rules.is_request_error`, `isRequestError` in `@myagent/client`).
* **Text deltas.** `agent.partial_answer` frames carry pieces of the answer; concatenate them in
  `seq` order. The server may merge consecutive deltas of the same step into one frame while the
  connection is behind; it never drops, reorders or renumbers text.
* **ACK.** `user.ack` with `last_event_id` (preferred) or `last_seq` lets the server drop events
  up to that point. Either may sit at the top level, in `content` or in `metadata`, as a number or
  a numeric string; `last_event_id` may be `"<session_id>:<seq>"` or a bare seq. ACKs are advisory:
  one that cannot be applied (unknown session, a session this connection does not hold, a position
  that is not ours) gets at most one error per session per connection (for at most 64 sessions),
  and later ones are ignored.
  Without ACKs the server keeps the most recent `retention_events` events (default 1000) and
  `retention_bytes` (default 1 MiB) per session.
* **Resume.** A session outlives its connection for `grace_period` seconds (default 600); its
  run goes on and its events are retained. `user.reconnect` with `session_id`, the
  `resume_token` from `agent.session_created` and the client's `last_event_id`/`last_seq`
  re-attaches the session (from the same or a new connection) and replays every event after that
  position exactly once, in order, followed by live events. A `system.notice` with
  `action: "reconnect"` and `replay_count` comes first. If events in between are no longer
  retained, a `system.error` with code `REPLAY_GAP` gives the lost range
  (`details.missing_from_seq`..`details.missing_to_seq`) before the rest is replayed.
  `user.reconnect_with_state` honours `last_event_id`/`last_seq` the same way when the state's
  session is still alive and re-attached (a position of another session is ignored). Knowing a
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
  confirmation wait and produces `agent.interrupted`. Every run ends with exactly one sequenced,
  replayable closing event: `agent.final_answer`, a sequenced `agent.error`, `agent.interrupted`, or, in Plan &
  Solve's direct task mode (`user.solve_tasks`, solver events only as the user's guide says),
  `pipeline.tasks_completed` with the task counts. A confirmation the run stops waiting for (cancel,
  replan) is withdrawn with `agent.confirmation_withdrawn` (`metadata.step_id`).
* **Event ids.** `event_id` is `"<session_id>:<seq>"`; a client may ACK or resume with either form.
* **Backpressure.** Each connection has one writer. A client that does not read while more than
  `outbound_queue_frames` frames (default 2000) are waiting is disconnected with close code
  `4008`; its sessions stay resumable.
* **Heartbeats.** `system.heartbeat` every `heartbeat_interval` seconds (default 30) plus
  WebSocket ping/pong (`ping_interval`/`ping_timeout`, default 20 s) to drop dead peers.
* **Input rules.** Frames are JSON text (RFC 8259): `NaN` and `Infinity` are `INVALID_JSON`. A
  string or object key holding a lone UTF-16 surrogate (`"\\ud800"`), or a number too large to be
  finite, is `INVALID_FIELD` with `details.field` giving its path (`content.items[0].name`);
  nothing of such a frame reaches the agent or the log. Integer fields of the catalog must lie
  within ±(2⁵³−1), the range JavaScript represents exactly; `session_id` and `step_id` are at most
  256 characters. An error frame repeats at most 200 characters of a value the client sent.
"""


def _types(field: FieldSpec | tuple[str, ...]) -> str:
    types = field.types if isinstance(field, FieldSpec) else field
    return " \\| ".join(types)


def _where(field: FieldSpec) -> str:
    return {"top": "top level", "content": "`content`", "metadata": "`metadata`"}.get(
        field.where, "top level, `content` or `metadata`"
    )


def _sequencing(spec: EventSpec) -> str:
    if spec.request_error:
        return "sequenced (`seq`, `event_id`, replayed) when it ends a run; not sequenced when it answers a request"
    return "sequenced (`seq`, `event_id`, replayed)" if spec.sequenced else "not sequenced"


def _event_section(spec: EventSpec) -> list[str]:
    lines = [f"### `{spec.name}`", "", spec.summary, ""]
    facts = [f"session_id: **{spec.session}**"]
    if spec.direction == "down":
        facts.append(_sequencing(spec))
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


def _close_code_section() -> list[str]:
    lines = [
        "## Close codes",
        "",
        "| code | reason | when | sessions resumable |",
        "|---|---|---|---|",
    ]
    for entry in CLOSE_CODES.values():
        lines.append(f"| {entry.code} | {entry.reason} | {entry.description} | {'yes' if entry.resumable else 'no'} |")
    lines += [
        "",
        "A handshake can also be refused before the upgrade, with an HTTP status and no WebSocket:",
        "",
        "| HTTP status | when |",
        "|---|---|",
        *(f"| {status} | {text} |" for status, text in HANDSHAKE_REFUSALS.items()),
        "",
    ]
    return lines


def render_markdown() -> str:
    lines = [_INTRO, *_close_code_section()]
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
        if not spec.request_error:  # an unsequenced one answers a rejected request
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
        "x-close-codes": {str(code): entry.description for code, entry in CLOSE_CODES.items()},
    }
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


_TS_TYPES = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "object": "JsonObject",
    "array": "unknown[]",
    "null": "null",
}

_TS_INTRO = f"""// MyAgent WebSocket protocol {PROTOCOL_VERSION}: a type for every event.
// Generated from src/myagent/protocol/catalog.py by `python -m myagent.protocol.render`. Do not edit.
// Field names and meanings: docs/protocol.md. Types only: this file adds no JavaScript.

/** The protocol version these types describe. */
export type ProtocolVersion = "{PROTOCOL_VERSION}";

/** A JSON object; the protocol does not fix its fields. */
export interface JsonObject {{
  [key: string]: unknown;
}}

/** Fields every server frame carries or may carry. */
export interface ServerFrameBase {{
  /** ISO 8601 time the frame was created (UTC, milliseconds). */
  timestamp: string;
  /** Pairs a request with its answer (tool call id, `confirm_…` ids). */
  step_id?: string;
  /** Short human-readable text. */
  show_content?: string;
  /** The connection, where stated. */
  connection_id?: string;
}}

/** Sequenced events: per-session `seq` (gapless, from 1) and a stable `event_id` (`<session_id>:<seq>`). */
export interface Sequenced {{
  seq: number;
  event_id: string;
}}

/** Fields every client frame may carry. */
export interface ClientFrameBase {{
  /** ISO 8601 time the frame was created. */
  timestamp?: string;
}}
"""


def _ts_name(event: str) -> str:
    """``agent.session_created`` → ``AgentSessionCreated``."""
    return "".join(part[:1].upper() + part[1:] for part in event.replace(".", "_").split("_") if part)


def _ts_doc(text: str, indent: str = "") -> str:
    safe = text.replace("*/", "* /")
    return f"{indent}/** {safe} */"


def _ts_type(field: FieldSpec | tuple[str, ...], object_type: str = "JsonObject") -> str:
    types = field.types if isinstance(field, FieldSpec) else field
    if isinstance(field, FieldSpec) and field.name == "error_code":
        return "ErrorCode"
    mapped: list[str] = []
    for json_type in types:
        ts = object_type if json_type == "object" else _TS_TYPES[json_type]
        if ts not in mapped:
            mapped.append(ts)
    return " | ".join(mapped)


def _ts_field(field: FieldSpec, *, required: bool, note: str = "") -> list[str]:
    mark = "" if required else "?"
    return [_ts_doc(field.description + note, "  "), f"  {field.name}{mark}: {_ts_type(field)};"]


def _ts_event(spec: EventSpec) -> list[str]:
    name = _ts_name(spec.name)
    down = spec.direction == "down"
    lines: list[str] = []
    either = " Required: at the top level, in `content` or in `metadata`."
    metadata = [f for f in spec.fields if f.where == "metadata"]
    content = [f for f in spec.fields if f.where in ("content", "top_or_content")]
    top = [f for f in spec.fields if f.where in ("top", "top_or_content")]
    if metadata:
        lines += [
            _ts_doc(f"`metadata` of `{spec.name}`; servers may add fields."),
            f"export interface {name}Metadata {{",
        ]
        for field in metadata:
            lines += _ts_field(field, required=field.required)
        lines += ["  [key: string]: unknown;", "}", ""]
    object_type = "JsonObject"
    if content and "object" in spec.content_types:
        object_type = f"{name}Content"
        lines += [_ts_doc(f"`content` of `{spec.name}` when it is an object."), f"export interface {object_type} {{"]
        for field in content:
            both = field.where == "top_or_content"
            lines += _ts_field(
                field, required=field.required and not both, note=either if both and field.required else ""
            )
        lines += ["  [key: string]: unknown;", "}", ""]
    bases = "ClientFrameBase"
    if down:
        sequenced = "Partial<Sequenced>" if spec.request_error else "Sequenced"
        bases = f"ServerFrameBase, {sequenced}" if spec.sequenced else "ServerFrameBase"
    summary = spec.summary if spec.available else f"{spec.summary} (Answered with `NOT_SUPPORTED` by this version.)"
    lines += [_ts_doc(f"`{spec.name}`: {summary}"), f"export interface {name}Event extends {bases} {{"]
    lines.append(f'  event: "{spec.name}";')
    if spec.session == "required":
        lines.append("  session_id: string;")
    elif spec.session == "optional":
        lines.append("  session_id?: string;")
    for field in top:
        both = field.where == "top_or_content"
        lines += _ts_field(field, required=field.required and not both, note=either if both and field.required else "")
    if spec.content_types:
        optional = "null" in spec.content_types
        types = tuple(t for t in spec.content_types if t != "null") if down else spec.content_types
        lines.append(f"  content{'?' if optional else ''}: {_ts_type(types, object_type)};")
    if metadata:
        needed = any(f.required for f in metadata)
        lines.append(f"  metadata{'' if needed else '?'}: {name}Metadata;")
    elif down:
        lines.append("  metadata?: JsonObject;")
    lines += ["}", ""]
    return lines


def _ts_union(name: str, doc: str, members: list[str]) -> list[str]:
    return [_ts_doc(doc), f"export type {name} =", *(f"  | {m}" for m in members[:-1]), f"  | {members[-1]};", ""]


def render_typescript() -> str:
    """``clients/typescript/myagent-events.d.ts``: an interface per event, unions and the error codes."""
    lines = [_TS_INTRO]
    codes = [f'"{code}"' for code in ERROR_CODES]
    lines += _ts_union("ErrorCode", "A code of `metadata.error_code` (`system.error`, `agent.error`).", codes)
    lines += _ts_union(
        "CloseCode", "A WebSocket close code the server uses (docs/protocol.md).", [str(c) for c in CLOSE_CODES]
    )
    for title_family, title in _FAMILY_TITLES.items():
        specs = [spec for spec in CATALOG.values() if spec.family == title_family]
        if specs:
            lines += [f"// -- {title.replace('`', '')} " + "-" * max(4, 90 - len(title)), ""]
        for spec in specs:
            lines += _ts_event(spec)
    up = [spec for spec in CATALOG.values() if spec.direction == "up"]
    down = [spec for spec in CATALOG.values() if spec.direction == "down"]
    lines += ["// -- unions and maps " + "-" * 72, ""]
    lines += _ts_union("ServerEvent", "Every server → client frame.", [f"{_ts_name(s.name)}Event" for s in down])
    lines += _ts_union("ClientEvent", "Every client → server frame.", [f"{_ts_name(s.name)}Event" for s in up])
    lines += _ts_union(
        "SequencedEventName",
        "Events that carry `seq`/`event_id` and are replayed after a resume.",
        [f'"{s.name}"' for s in down if s.sequenced],
    )
    lines += _ts_union(
        "RunClosingEventName",
        "Events that end a run; exactly one closes every run.",
        [f'"{name}"' for name in sorted(RUN_CLOSING_EVENTS)],
    )
    lines += _ts_union(
        "NoticeAction", "Values of `metadata.action` on `system.notice`.", [f'"{a}"' for a in notice_actions()]
    )
    lines += _ts_union(
        "ToolStatus",
        "Values of `metadata.status` on `agent.tool_call` (running) and `agent.tool_result`.",
        [f'"{s}"' for s in tool_statuses()],
    )
    lines += [
        _ts_doc("Name of a server event."),
        'export type ServerEventName = ServerEvent["event"];',
        "",
        _ts_doc("Name of a client event."),
        'export type ClientEventName = ClientEvent["event"];',
        "",
        _ts_doc('Server events by name: `ServerEventMap["agent.final_answer"]`.'),
        "export interface ServerEventMap {",
        *(f'  "{s.name}": {_ts_name(s.name)}Event;' for s in down),
        "}",
        "",
        _ts_doc("Client events by name."),
        "export interface ClientEventMap {",
        *(f'  "{s.name}": {_ts_name(s.name)}Event;' for s in up),
        "}",
    ]
    return "\n".join(lines).rstrip() + "\n"


OUTPUTS = {
    "docs/protocol.md": render_markdown,
    "schema/events.schema.json": render_json_schema,
    "clients/typescript/myagent-events.d.ts": render_typescript,
    "clients/js/src/generated/events.ts": render_typescript,
    "clients/js/src/generated/protocol.ts": render_typescript_protocol,
}


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

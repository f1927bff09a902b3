"""The protocol doc and JSON Schema are generated from the catalog and must be up to date."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from myagent.protocol.catalog import CATALOG
from myagent.protocol.envelope import create_event
from myagent.protocol.render import OUTPUTS, render_json_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("relative", sorted(OUTPUTS))
def test_generated_file_is_current(relative: str) -> None:
    on_disk = (ROOT / relative).read_text(encoding="utf-8")
    assert on_disk == OUTPUTS[relative](), f"{relative} is stale: run `python -m myagent.protocol.render`"


def test_protocol_doc_describes_every_event() -> None:
    text = (ROOT / "docs/protocol.md").read_text(encoding="utf-8")
    for name in CATALOG:
        assert f"### `{name}`" in text


def test_schema_accepts_a_real_frame_and_rejects_a_wrong_one() -> None:
    schema = json.loads(render_json_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    frame = create_event("agent.final_answer", session_id="s", content="hi", metadata={"reason": "stop"})
    frame.update(seq=3, event_id="s:3")
    jsonschema.validate(frame, {**schema, "$ref": "#/$defs/agent.final_answer"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**frame, "seq": "3"}, {**schema, "$ref": "#/$defs/agent.final_answer"})

"""The console's generated protocol.js applies the same run-closing and request-error rules as Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from myagent.protocol.catalog import CATALOG
from myagent.protocol.rules import closes_run, is_request_error
from tests.acceptance.guide import REPO

PROTOCOL_JS = REPO / "src" / "myagent" / "ui" / "static" / "js" / "protocol.js"

# Every downstream event, with and without seq (and seq null, as a hand-built frame may have it).
FRAMES: list[dict[str, Any]] = [
    {"event": name, **extra}
    for name, spec in CATALOG.items()
    if spec.direction == "down"
    for extra in ({}, {"seq": 3}, {"seq": None})
]


def test_protocol_js_decides_like_protocol_rules() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (the Makefile installs it)")
    script = (
        f"import {{ closesRun, isRequestError }} from {json.dumps(PROTOCOL_JS.as_uri())};\n"
        f"const frames = {json.dumps(FRAMES)};\n"
        "console.log(JSON.stringify(frames.map((f) => [closesRun(f), isRequestError(f)])));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    expected = [[closes_run(f["event"], f.get("seq")), is_request_error(f["event"], f.get("seq"))] for f in FRAMES]
    assert json.loads(done.stdout) == expected
    assert [True, False] in expected and [False, True] in expected  # both rules matter in the sample

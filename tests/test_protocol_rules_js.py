"""The generated JavaScript rules (@myagent/client's build, which the console vendors) decide like Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from myagent.protocol.catalog import CATALOG
from myagent.protocol.rules import closes_run, is_request_error, parse_event_id
from tests.acceptance.guide import REPO

#: @myagent/client's ESM build, from clients/js/src/generated/protocol.ts (`make test` builds it).
CLIENT_JS = REPO / "clients" / "js" / "dist" / "index.js"
VENDORED_JS = REPO / "src" / "myagent" / "ui" / "static" / "vendor" / "myagent-client" / "index.js"
MODULES = {"console": VENDORED_JS, "js-client": CLIENT_JS}
EVENT_IDS = ["s:1", "a:b:12", ":3", "s:", "s:-1", "s:1.5", "s:²", "s: 1", "s:007", "s:9007199254740991", ""]

# Every downstream event, with and without seq (and seq null, as a hand-built frame may have it).
FRAMES: list[dict[str, Any]] = [
    {"event": name, **extra}
    for name, spec in CATALOG.items()
    if spec.direction == "down"
    for extra in ({}, {"seq": 3}, {"seq": None})
]


@pytest.mark.parametrize("which", sorted(MODULES))
def test_protocol_js_decides_like_protocol_rules(which: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (the Makefile installs it)")
    module = MODULES[which]
    if not module.is_file():
        pytest.fail(f"{module.relative_to(REPO)} is missing: run `make js-client` (`make test` does)")
    script = (
        f"import {{ closesRun, isRequestError, parseEventId }} from {json.dumps(module.as_uri())};\n"
        f"const frames = {json.dumps(FRAMES)};\n"
        f"const ids = {json.dumps(EVENT_IDS)};\n"
        "console.log(JSON.stringify([frames.map((f) => [closesRun(f), isRequestError(f)]), ids.map(parseEventId)]));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    expected = [[closes_run(f["event"], f.get("seq")), is_request_error(f["event"], f.get("seq"))] for f in FRAMES]
    decided, parsed = json.loads(done.stdout)
    assert decided == expected
    assert [True, False] in expected and [False, True] in expected  # both rules matter in the sample
    assert parsed == [list(p) if (p := parse_event_id(i)) is not None else None for i in EVENT_IDS]

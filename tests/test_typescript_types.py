"""clients/typescript/myagent-events.d.ts type-checks with tsc (from web/node_modules) and matches the catalog.

tsc checks clients/typescript/example.ts, a small client whose ``@ts-expect-error`` lines are mistakes
the types must reject, and a generated program that switches over every server event name, so the
``ServerEvent`` union is exactly the catalog's server events. That the .d.ts is regenerated from the
catalog is checked by tests/test_protocol_docs.py (it is one of ``render.OUTPUTS``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from myagent.protocol.catalog import CATALOG
from myagent.protocol.errors import ERROR_CODES

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
TYPES = ROOT / "clients" / "typescript" / "myagent-events.d.ts"
TSC = WEB / "node_modules" / "typescript" / "bin" / "tsc"
TSC_TIMEOUT = 300
MODULE = json.dumps(str(TYPES.with_suffix("").with_suffix("")))  # the .d.ts as an import specifier


def tsc(*args: str) -> subprocess.CompletedProcess[str]:
    """``npx --prefix web tsc ARGS`` from the repository root; fails clearly when it cannot run."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx (Node.js/npm) is not installed: run `make test`, which installs nodejs and npm")
    if not TSC.is_file():
        pytest.fail(
            f"{TSC.relative_to(ROOT)} is missing: run `npm ci --prefix web` (`make test` does) to install TypeScript"
        )
    return subprocess.run(
        [npx, "--prefix", str(WEB), "--no-install", "tsc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TSC_TIMEOUT,
        check=False,
    )


def test_example_client_type_checks() -> None:
    result = tsc("-p", "clients/typescript/tsconfig.json")
    assert result.returncode == 0, f"tsc failed:\n{result.stdout}\n{result.stderr}"


def test_unions_cover_exactly_the_catalog(tmp_path: Path) -> None:
    server = [name for name, spec in CATALOG.items() if spec.direction == "down"]
    client = [name for name, spec in CATALOG.items() if spec.direction == "up"]
    cases = "\n".join(f"    case {json.dumps(name)}: return {json.dumps(name)};" for name in server)
    program = f"""import type {{ ClientEventName, ErrorCode, ServerEvent }} from {MODULE};

// Exhaustive: a server event missing from the catalog (or an extra one) fails to compile.
export function name(event: ServerEvent): string {{
  switch (event.event) {{
{cases}
    default: {{
      const unreachable: never = event;
      return unreachable;
    }}
  }}
}}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const clientNames: Same<ClientEventName, {" | ".join(json.dumps(n) for n in client)}> = true;
export const errorCodes: Same<ErrorCode, {" | ".join(json.dumps(c) for c in ERROR_CODES)}> = true;
"""
    sample = tmp_path / "catalog_check.ts"
    sample.write_text(program, encoding="utf-8")
    result = tsc(
        "--noEmit", "--strict", "--target", "ES2022", "--module", "ES2022", "--moduleResolution", "bundler", str(sample)
    )
    assert result.returncode == 0, f"tsc failed:\n{result.stdout}\n{result.stderr}\n--- program ---\n{program}"


def test_types_reject_a_wrong_frame(tmp_path: Path) -> None:
    """A control: tsc does fail on a frame the protocol forbids (so a green run means something)."""
    sample = tmp_path / "wrong.ts"
    sample.write_text(
        f"import type {{ ClientEvent }} from {MODULE};\n"
        'export const frame: ClientEvent = { event: "user.cancel_task", session_id: "s", content: {} };\n',
        encoding="utf-8",
    )
    result = tsc("--noEmit", "--strict", "--moduleResolution", "bundler", "--module", "ES2022", str(sample))
    assert result.returncode != 0
    assert "task_id" in result.stdout, result.stdout


def test_every_event_has_an_interface() -> None:
    text = TYPES.read_text(encoding="utf-8")
    for name in CATALOG:
        assert f'event: "{name}";' in text, f"{name} has no interface in {TYPES.name}"

"""@myagent/client (clients/js): strict TypeScript, its vitest suite, its package metadata and its tarball.

The vitest suite holds the unit tests (a scripted ``ws`` server) and the integration tests, which start
the real server (``python -m myagent.cli.server``, this interpreter) on free ports: a socket dropped
mid-answer, confirmations, cancel, a restore across a server restart, authentication. ``make test``
installs the package's pinned tools (``npm ci --prefix clients/js``) and builds ``dist/`` first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: npm, tsc and the integration suite (real servers, a restart) take minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "js"
TIMEOUT = 600


def npm(*args: str, cwd: Path = PACKAGE, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``npm ARGS`` in ``cwd``; fails clearly when Node.js or the package's tools are missing."""
    executable = shutil.which("npm")
    if executable is None:
        pytest.fail("npm (Node.js) is not installed: run `make test`, which installs nodejs and npm")
    if not (PACKAGE / "node_modules" / ".package-lock.json").is_file():
        pytest.fail("clients/js/node_modules is missing: run `npm ci --prefix clients/js` (`make test` does)")
    return subprocess.run(
        [executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
    )


def passed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built from the current sources and packed as npm would publish it."""
    built = npm("run", "build")
    assert passed(built), built.stdout + built.stderr
    out = tmp_path_factory.mktemp("pack")
    result = npm("pack", "--json", "--pack-destination", str(out))
    assert passed(result), result.stdout + result.stderr
    filename: str = json.loads(result.stdout)[0]["filename"]
    return out / filename


def test_typescript_is_strict_clean() -> None:
    result = npm("exec", "--no", "--", "tsc", "--noEmit", "-p", ".")
    assert passed(result), result.stdout + result.stderr


def test_vitest_unit_and_integration_suites() -> None:
    result = npm("test", env={"MYAGENT_PYTHON": sys.executable, "CI": "1"})
    assert passed(result), result.stdout[-6000:] + result.stderr[-3000:]
    assert "failed" not in result.stdout.lower().split("test files")[-1], result.stdout[-2000:]


def test_publint_and_are_the_types_wrong(packed: Path) -> None:
    lint = npm("exec", "--no", "--", "publint", "--strict")
    assert passed(lint), lint.stdout + lint.stderr
    types = npm("exec", "--no", "--", "attw", str(packed))
    assert passed(types), types.stdout + types.stderr
    assert "No problems found" in types.stdout


def test_packed_tarball_installs_and_imports_as_esm_and_cjs(packed: Path, tmp_path: Path) -> None:
    """An empty project installs the tarball (and ``ws``, for the Node entry) offline and imports it both ways."""
    ws_dir = PACKAGE / "node_modules" / "ws"
    ws_pack = npm("pack", "--json", "--pack-destination", str(tmp_path), str(ws_dir))
    assert passed(ws_pack), ws_pack.stdout + ws_pack.stderr
    ws_tarball = tmp_path / json.loads(ws_pack.stdout)[0]["filename"]
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}\n', encoding="utf-8")
    install = npm("install", "--offline", "--no-audit", "--no-fund", str(packed), str(ws_tarball), cwd=app)
    assert passed(install), install.stdout + install.stderr
    check = (
        "const ok = typeof main.AgentClient === 'function' && typeof node.AgentClient === 'function'"
        " && main.UserEvents.MESSAGE === 'user.message' && main.closesRun({event: 'agent.final_answer', seq: 3});"
        " if (!ok) { throw new Error('unexpected exports'); } console.log('imported');"
    )
    esm = f"import * as main from '@myagent/client'; import * as node from '@myagent/client/node'; {check}"
    cjs = f"const main = require('@myagent/client'); const node = require('@myagent/client/node'); {check}"
    node = shutil.which("node")
    assert node is not None
    for flag, script in (("--input-type=module", esm), ("--input-type=commonjs", cjs)):
        done = subprocess.run([node, flag, "-e", script], cwd=app, capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "imported", done.stdout + done.stderr

"""The guide's direct-task snippet (``user.solve_tasks``), unchanged, in Node.js against the Plan & Solve example.

The snippet is the quick-start's ```javascript block that sends ``user.solve_tasks``. It expects ``ws``
(an open socket) and ``sessionId`` to exist, "after agent.session_created". The wrapper below provides
exactly that and nothing more: it connects with the npm package ``ws``, creates a session, and on
``agent.session_created`` sets ``sessionId`` and evaluates the snippet text as it is. It prints every
frame it receives (and, by wrapping ``ws.send``, every frame the snippet sends) as one JSON line.

The server is ``python -m myagent.cli.server server examples/plan_solve_report.py`` on a free port of
localhost (the wrapper gets its URL as its second argument), a real process on the offline model
(its working directory holds no .env).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.guide import REPO, ServerProcess, child_env, find_block, free_port
from tests.acceptance.test_guide_clients import node_modules  # noqa: F401  (a fixture)

EXAMPLE = REPO / "examples" / "plan_solve_report.py"
DEADLINE = 30.0  # seconds for the whole exchange; reaching it is a failure of the exchange, not of speed

WRAPPER = r"""
const fs = require('fs');
const WebSocket = require('ws');

const snippet = fs.readFileSync(process.argv[2], 'utf8');
const ws = new WebSocket(process.argv[3]);
let sessionId = null;

const send = ws.send.bind(ws);
ws.send = (data, ...rest) => {
  console.log(JSON.stringify({ sent: JSON.parse(data) }));
  return send(data, ...rest);
};

ws.on('open', () => ws.send(JSON.stringify({ event: 'user.create_session' })));
ws.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  console.log(JSON.stringify({ received: msg }));
  if (msg.event === 'agent.session_created') {
    sessionId = msg.session_id;
    eval(snippet); // the guide's snippet, unchanged, with `ws` and `sessionId` in scope
  }
});
ws.on('error', (error) => {
  console.error(error);
  process.exit(1);
});
"""


def direct_task_snippet() -> str:
    return find_block("javascript", "user.solve_tasks")


def report_server(workdir: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "myagent.cli.server", "server", str(EXAMPLE)]
    argv += ["--host", "localhost", "--port", str(port)]
    return ServerProcess(argv, workdir, "plan-solve report server", port)


async def run_until_solved(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[list[Any], list[Any], str]:
    """Run the wrapper until every task the snippet sent has ``solver.completed`` (or failed/errored).

    Returns ``(sent frames, received frames, transcript)``; the wrapper never exits by itself.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    sent: list[Any] = []
    received: list[Any] = []
    transcript: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE

    def finished() -> bool:
        tasks = [t for f in sent if f.get("event") == "user.solve_tasks" for t in f["content"]["tasks"]]
        done = {
            str(f["metadata"].get("task_id"))
            for f in received
            if f["event"] in ("solver.completed", "solver.failed", "solver.cancelled")
        }
        failed = any(f["event"] in ("system.error", "agent.error") for f in received)
        return failed or (bool(tasks) and {str(t["id"]) for t in tasks} <= done)

    try:
        while not finished():
            remaining = deadline - loop.time()
            if remaining <= 0:
                pytest.fail("the snippet's tasks were not all solved in time:\n" + "".join(transcript))
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                await proc.wait()
                pytest.fail(f"the Node.js wrapper exited ({proc.returncode}) early:\n" + "".join(transcript))
            line = raw.decode("utf-8", errors="replace")
            transcript.append(line)
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "sent" in item:
                sent.append(item["sent"])
            elif "received" in item:
                received.append(item["received"])
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
    return sent, received, "".join(transcript)


@pytest.mark.node
async def test_direct_task_snippet_from_guide(node_modules: Path, tmp_path: Path) -> None:  # noqa: F811
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the guide's Node.js code needs Node.js 18+ (the Makefile installs it)")
    snippet = direct_task_snippet()
    (tmp_path / "snippet.js").write_text(snippet, encoding="utf-8")
    (tmp_path / "wrapper.js").write_text(WRAPPER, encoding="utf-8")
    server = report_server(tmp_path / "server")
    argv = [node, str(tmp_path / "wrapper.js"), str(tmp_path / "snippet.js"), server.url]
    with server.running():
        sent, received, transcript = await run_until_solved(argv, tmp_path, child_env(NODE_PATH=str(node_modules)))

    events = [f["event"] for f in received]
    assert "system.error" not in events and "agent.error" not in events, transcript
    requests = [f for f in sent if f.get("event") == "user.solve_tasks"]
    assert len(requests) == 1, transcript
    tasks = requests[0]["content"]["tasks"]
    assert tasks, transcript
    for task in tasks:
        of_task = [f for f in received if str(f.get("metadata", {}).get("task_id")) == str(task["id"])]
        for event in ("solver.start", "solver.completed"):
            assert [f["event"] for f in of_task].count(event) == 1, f"{event} for task {task['id']}:\n{transcript}"
        completed = next(f for f in of_task if f["event"] == "solver.completed")
        output = completed["content"]["result"]["output"]
        assert output["title"] == task["title"] and output["markdown"], output
        assert output["charts"] and output["charts"][0]["y_fields"], output
    # direct mode: no planning, no aggregation, no answer
    assert not [e for e in events if e.startswith(("plan.", "aggregate.", "pipeline.")) or e == "agent.final_answer"]
    notice = next(f for f in received if f["event"] == "system.notice")
    assert notice["metadata"] == {"action": "solve_tasks", "ok": True, "tasks": len(tasks)}

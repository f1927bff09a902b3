"""The user's guide, run as written: its Python, Node.js and browser clients against the weather example,
its ACK snippet in the browser, and its server example.

The code comes out of quick-start.md at test time (see ``guide.py``) and is never edited, except for the
server address it hard-codes, which points at the test's server on a free port. Waits are
bounded: running into a bound is a failure of the client/server exchange, not a judgement on speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
import websockets
from playwright.async_api import Browser, Page, expect

from tests.acceptance.guide import (  # guide_port and weather_server are fixtures
    REPO,
    ServerProcess,
    ack_snippet,
    child_env,
    guide_port,  # noqa: F401
    html_client,
    metrics,
    node_client,
    python_client,
    server_example,
    weather_server,  # noqa: F401
)

QUESTION = "你好，请介绍一下自己"
CLIENT_DEADLINE = 30.0  # seconds for a guide client to show connection, session and answer
BROWSER_WAIT_MS = 15_000  # Playwright's bound for one expected change of the page
JS_DIR = REPO / "tests" / "js"
NPM_CI = "npm ci --prefix tests/js"
SCREENSHOT = REPO / "docs" / "images" / "guide-html-client.png"

# The console lines the guide promises ("期望的输出"), as printed by both command-line clients.
CONNECTED = "✅ 连接成功"
SESSION = "🚀 会话创建成功:"
ANSWER = "🎯 Agent回答:"


# -- command-line clients --------------------------------------------------------------------------


async def run_console_client(argv: list[str], cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Run a guide client until it printed the three expected lines; return ``{marker: line}``.

    The clients never exit by themselves while connected (the Python one after ~11 s), so the
    process is terminated once everything was seen.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    transcript: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLIENT_DEADLINE
    try:
        while not (ANSWER in seen and SESSION in seen and CONNECTED in seen):
            remaining = deadline - loop.time()
            if remaining <= 0:
                pytest.fail(f"{argv[-1]} did not print {[CONNECTED, SESSION, ANSWER]} in time:\n" + "".join(transcript))
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                await proc.wait()
                pytest.fail(f"{argv[-1]} exited ({proc.returncode}) early:\n" + "".join(transcript))
            line = raw.decode("utf-8", errors="replace")
            transcript.append(line)
            for marker in (CONNECTED, SESSION, ANSWER):
                if line.startswith(marker) and marker not in seen:
                    seen[marker] = line.rstrip("\n")
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
    text = "".join(transcript)
    assert "❌ 错误" not in text and "连接错误" not in text, text
    return seen


def assert_console_conversation(seen: dict[str, str]) -> None:
    session_id = seen[SESSION].removeprefix(SESSION).strip()
    assert session_id, seen[SESSION]
    answer = seen[ANSWER].removeprefix(ANSWER).strip()
    assert "weather_agent" in answer, answer  # the offline model introduces the agent by name


async def test_python_client_from_guide(weather_server: ServerProcess, tmp_path: Path) -> None:  # noqa: F811
    client = tmp_path / "client.py"
    client.write_text(python_client(weather_server.url), encoding="utf-8")
    seen = await run_console_client([sys.executable, "-u", str(client)], tmp_path, child_env())
    assert_console_conversation(seen)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/js/node_modules with ``ws`` from the committed lock file (``npm ci`` when it is missing)."""
    modules = JS_DIR / "node_modules"
    if not (modules / "ws" / "package.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"{modules} is missing and npm is not installed: install Node.js, then run {NPM_CI!r}")
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"{NPM_CI!r} failed (run it by hand to see why):\n{result.stdout}{result.stderr}")
    return modules


@pytest.mark.node
async def test_node_client_from_guide(
    weather_server: ServerProcess,  # noqa: F811
    node_modules: Path,
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the guide's Node.js client needs Node.js 18+ (the Makefile installs it)")
    client = tmp_path / "client.js"
    client.write_text(node_client(weather_server.url), encoding="utf-8")
    seen = await run_console_client([node, str(client)], tmp_path, child_env(NODE_PATH=str(node_modules)))
    assert_console_conversation(seen)


# -- the browser page --------------------------------------------------------------------------------

# Instrumentation loaded before the page's own script: it records every frame the page sends
# (``window.__sent``) and receives (``window.__received``) without changing what the page does.
RECORDER = """
(() => {
  const NativeWebSocket = window.WebSocket;
  window.__sent = [];
  window.__received = [];
  const send = NativeWebSocket.prototype.send;
  NativeWebSocket.prototype.send = function (data) {
    window.__sent.push(JSON.parse(data));
    return send.call(this, data);
  };
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => window.__received.push(JSON.parse(event.data)));
    }
  };
})();
"""


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, UTF-8 HTML (the guide's page has no <meta charset>), no favicon, no log lines."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
    }

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_url(tmp_path: Path, guide_port: int) -> Iterator[str]:  # noqa: F811
    """The guide's HTML page, pointed at ``localhost:guide_port``, served by a throwaway HTTP server."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(html_client(f"ws://localhost:{guide_port}"), encoding="utf-8")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_SiteHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextlib.asynccontextmanager
async def guide_page(browser: Browser, url: str) -> AsyncIterator[Page]:
    """The guide's page, loaded and connected with a session; fails on any uncaught script error."""
    context = await browser.new_context(viewport={"width": 900, "height": 560})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
    await page.add_init_script(RECORDER)
    try:
        await page.goto(url)
        messages = page.locator("#messages")
        await expect(messages).to_contain_text("系统: 已连接到服务器", timeout=BROWSER_WAIT_MS)
        await expect(messages).to_contain_text("系统: 会话创建成功", timeout=BROWSER_WAIT_MS)
        yield page
        assert not errors, errors
        received = await page.evaluate("window.__received")
        assert not [f for f in received if f["event"] in ("system.error", "agent.error")], received
    finally:
        await context.close()


async def ask_in_page(page: Page, text: str, expected: str) -> None:
    """Type ``text`` into the page, press Enter, and wait for an ``Agent:`` line containing ``expected``."""
    await page.locator("#messageInput").fill(text)
    await page.locator("#messageInput").press("Enter")
    lines = page.locator("#messages > div")
    await expect(lines.filter(has_text=f"用户: {text}")).to_have_count(1)
    await expect(page.locator("#messageInput")).to_have_value("")
    answer = lines.filter(has_text=expected)
    await expect(answer).to_have_count(1, timeout=BROWSER_WAIT_MS)
    await expect(answer).to_have_text(re.compile(r"^Agent:"))


@pytest.mark.browser
@pytest.mark.usefixtures("weather_server")
async def test_html_client_from_guide(browser: Browser, page_url: str) -> None:
    async with guide_page(browser, page_url) as page:
        await ask_in_page(page, QUESTION, "weather_agent")
        lines = await page.locator("#messages > div").all_inner_texts()
        assert lines[:3] == ["系统: 已连接到服务器", "系统: 会话创建成功", f"用户: {QUESTION}"], lines
        assert "Agent: 💭 正在思考..." in lines, lines
        session_id = await page.evaluate("sessionId")
        created = [f for f in await page.evaluate("window.__received") if f["event"] == "agent.session_created"]
        assert [f["session_id"] for f in created] == [session_id]
        if os.environ.get("MYAGENT_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            bottom = await page.evaluate("Math.ceil(document.body.getBoundingClientRect().bottom) + 8")
            width = page.viewport_size["width"] if page.viewport_size else 900
            await page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": width, "height": bottom})


ACK_POLLS = 100  # x 0.1 s for the server to drop the acknowledged events from its replay log


@pytest.mark.browser
async def test_ack_snippet_from_guide(
    weather_server: ServerProcess,  # noqa: F811
    browser: Browser,
    page_url: str,
) -> None:
    async with guide_page(browser, page_url) as page:
        # The snippet replaces ws.onmessage: it belongs in the page's global scope, after connect().
        await page.add_script_tag(content=ack_snippet())
        await page.wait_for_function(
            "window.__sent.some((f) => f.event === 'user.ack')", timeout=BROWSER_WAIT_MS, polling=100
        )
        await ask_in_page(page, "北京天气怎么样？", "北京今天晴")

        received = await page.evaluate("window.__received")
        final = [f for f in received if f["event"] == "agent.final_answer"][-1]
        assert final["seq"] == max(f.get("seq", 0) for f in received)
        assert await page.evaluate("lastSeq") == final["seq"]
        assert await page.evaluate("lastEventId") == final["event_id"]
        await page.wait_for_function(
            "(id) => window.__sent.some((f) => f.event === 'user.ack' && f.content.last_event_id === id)",
            arg=final["event_id"],
            timeout=BROWSER_WAIT_MS,
            polling=100,
        )
        acks = [f for f in await page.evaluate("window.__sent") if f["event"] == "user.ack"]
        assert all(set(f["content"]) <= {"last_event_id", "last_seq"} for f in acks), acks

        # The server took the ACKs: every acknowledged event left its replay log, none was refused.
        for _ in range(ACK_POLLS):  # bounded polling of the server process's state
            values = await asyncio.to_thread(metrics, weather_server.port)
            if values["myagent_retained_events"] == 0:
                break
            await asyncio.sleep(0.1)
        assert values["myagent_retained_events"] == 0, values
        assert values["myagent_client_errors_total"] == 0, values


# -- the guide's server example ---------------------------------------------------------------------


async def test_server_example_from_guide(tmp_path: Path, guide_port: int) -> None:  # noqa: F811
    script = tmp_path / "my_agent_server.py"
    script.write_text(server_example(guide_port), encoding="utf-8")
    server = ServerProcess([sys.executable, str(script)], tmp_path, "my_agent_server.py", guide_port)
    with server.running():
        async with websockets.connect(server.url, proxy=None, open_timeout=10) as ws:

            async def recv() -> dict[str, Any]:
                return json.loads(await asyncio.wait_for(ws.recv(), 15))

            assert (await recv())["event"] == "system.connected"
            await ws.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
            created = await recv()
            assert created["event"] == "agent.session_created", created
            assert created["metadata"]["agent_name"] == "my_agent"
            await ws.send(
                json.dumps(
                    {"event": "user.message", "session_id": created["session_id"], "content": "请使用 my_tool"},
                    ensure_ascii=False,
                )
            )
            frames = [await recv()]
            while frames[-1]["event"] not in ("agent.final_answer", "agent.error"):
                frames.append(await recv())

    events = [f["event"] for f in frames]
    assert events[-1] == "agent.final_answer", frames
    # The offline model matches "my_tool" in the question and calls the guide's MyTool (no required args).
    call = next(f for f in frames if f["event"] == "agent.tool_call")
    assert call["metadata"]["tool_name"] == "my_tool" and call["metadata"]["tool_args"] == {}
    result = next(f for f in frames if f["event"] == "agent.tool_result")
    assert result["content"] == "工具执行成功" and result["metadata"]["status"] == "success"
    assert "工具执行成功" in frames[-1]["content"]

"""The guide's section 6 (客户端状态管理) in the browser, across a real server restart.

The guide's HTML page and its two state snippets (状态导出, 状态恢复) are taken from quick-start.md
unchanged (but for the server URL, see ``guide.py``) and run in headless Chromium against
``myagent.cli.server`` processes that share one port of localhost and one ``--state-secret-key``:
the state saved in ``localStorage`` while the first process ran is restored on the second one, and
the conversation goes on there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.acceptance.guide import (
    ServerProcess,
    export_state_snippet,
    guide_port,  # noqa: F401  (a fixture)
    restore_state_snippet,
    weather_server_process,
)
from tests.acceptance.test_guide_clients import (  # the guide page's browser fixtures and helpers
    BROWSER_WAIT_MS,
    ask_in_page,
    guide_page,
    page_url,  # noqa: F401  (a fixture)
)

STATE_KEY = "guide-state-acceptance-key"  # fixed, so that the restarted process accepts the state
FIRST_QUESTION = "北京天气怎么样？"
FIRST_ANSWER = "北京今天晴"
FOLLOW_UP = "上海天气怎么样？"
FOLLOW_UP_ANSWER = "上海今天小雨"

# How the snippets join the page, unchanged. Each snippet declares its own global-looking
# ``function handleMessage(data)``; added as a <script> it would replace the page's handler (and the
# second snippet the first one's). So each snippet becomes the body of its own function, created
# with ``new Function`` (whose scope is the global one, not this evaluate's): its declarations,
# ``handleMessage`` included, stay local to that call, while the free names it uses -- ``ws``,
# ``sessionId``, ``localStorage``, ``console`` -- resolve to the page's globals exactly as they would
# if the snippet had been pasted into the page's <script>. The snippet's local ``handleMessage`` is
# registered as one more listener on the page's socket (the page's own ``ws.onmessage`` keeps
# working), and its ``exportState``/``restoreState`` is exposed on ``window`` so the test can call
# it the way a button would.
INSTALL_SNIPPET = """
([snippet, name]) => {
  const install = new Function(
    snippet +
      "\\n;ws.addEventListener('message', (event) => handleMessage(JSON.parse(event.data)));" +
      "\\nreturn " + name + ";"
  );
  window[name] = install();
}
"""


async def install_snippet(page: Page, snippet: str, name: str) -> None:
    assert f"function {name}(" in snippet and "function handleMessage(data)" in snippet
    await page.evaluate(INSTALL_SNIPPET, [snippet, name])


def console_starting(text: str) -> Any:
    return lambda message: message.text.startswith(text)


async def export_to_local_storage(page: Page) -> dict[str, Any]:
    """Call the guide's ``exportState()``; return what its handler saved in ``localStorage``."""
    session_id = await page.evaluate("sessionId")
    async with page.expect_console_message(console_starting("✅ 状态已保存"), timeout=BROWSER_WAIT_MS):
        await page.evaluate("exportState()")
    await page.wait_for_function(
        "(id) => localStorage.getItem(`session_${id}`) !== null", arg=session_id, timeout=BROWSER_WAIT_MS
    )
    saved = await page.evaluate("(id) => localStorage.getItem(`session_${id}`)", session_id)
    signed: dict[str, Any] = json.loads(saved)
    return signed


@pytest.mark.browser
async def test_state_snippets_from_guide_survive_a_server_restart(
    browser: Browser,
    page_url: str,  # noqa: F811  (the fixture imported above)
    guide_port: int,  # noqa: F811  (the page's server port: both processes use it in turn)
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "server"  # no .env there: the offline model, whatever the developer's setup
    key = ("--state-secret-key", STATE_KEY)
    first = weather_server_process(workdir, *key, port=guide_port, name="weather server 1")
    second = weather_server_process(workdir, *key, port=guide_port, name="weather server 2")
    running: list[ServerProcess] = []
    try:
        first.start()
        running.append(first)
        async with guide_page(browser, page_url) as page:
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))

            # On the first process: a conversation, then 状态导出 into localStorage.
            await ask_in_page(page, FIRST_QUESTION, FIRST_ANSWER)
            original_id = await page.evaluate("sessionId")
            await install_snippet(page, export_state_snippet(), "exportState")
            saved = await export_to_local_storage(page)
            assert saved["state"]["session_id"] == original_id
            assert [m["content"] for m in saved["state"]["messages"] if m["role"] == "user"] == [FIRST_QUESTION]
            restored_count = len(saved["state"]["messages"])

            # Ctrl-C (exit 0, no traceback), and a new process with the same key.
            running.remove(first)
            first.stop()
            second.start()
            running.append(second)

            # The reloaded page connects by itself and creates a new session; 状态恢复 brings back the old one.
            await page.reload()
            messages = page.locator("#messages")
            await expect(messages).to_contain_text("系统: 会话创建成功", timeout=BROWSER_WAIT_MS)
            fresh_id = await page.evaluate("sessionId")
            assert fresh_id != original_id
            assert await page.evaluate("(id) => localStorage.getItem(`session_${id}`) !== null", original_id)
            await install_snippet(page, restore_state_snippet(), "restoreState")
            async with page.expect_console_message(
                console_starting("✅ 会话已恢复"), timeout=BROWSER_WAIT_MS
            ) as restored_log:
                await page.evaluate("(id) => restoreState(id)", original_id)
            message: ConsoleMessage = await restored_log.value
            restored_id = await page.evaluate("sessionId")  # the snippet adopted the restored session
            assert message.text == f"✅ 会话已恢复: {restored_id}"
            assert restored_id not in (original_id, fresh_id)
            received = await page.evaluate("window.__received")
            (restored,) = [f for f in received if f["event"] == "agent.state_restored"]
            assert restored["session_id"] == restored_id
            assert restored["metadata"]["original_session_id"] == original_id
            assert restored["metadata"]["message_count"] == restored_count
            assert restored["metadata"]["reattached"] is False
            assert f"恢复步骤: {restored['metadata']['restored_step']}" in console

            # The conversation goes on in the restored session, through the page's own input.
            await ask_in_page(page, FOLLOW_UP, FOLLOW_UP_ANSWER)
            received = await page.evaluate("window.__received")
            finals = [f for f in received if f["event"] == "agent.final_answer"]
            assert [f["session_id"] for f in finals] == [restored_id]
            assert FOLLOW_UP_ANSWER in finals[0]["content"]
            # The model's request carried the restored history: the offline model numbers its calls
            # by the request's message count (system prompt + restored messages + the new question).
            (tool_call,) = [f for f in received if f["event"] == "agent.tool_call"]
            assert tool_call["session_id"] == restored_id
            assert tool_call["metadata"]["call_id"].startswith(f"call_offline_{restored_count + 2}_")

            # And the restored session holds both turns: export it again (the export snippet is
            # installed on the new connection, its handler saves under the adopted session id).
            await install_snippet(page, export_state_snippet(), "exportState")
            again = await export_to_local_storage(page)
            assert again["state"]["session_id"] == restored_id
            user_turns = [m["content"] for m in again["state"]["messages"] if m["role"] == "user"]
            assert user_turns == [FIRST_QUESTION, FOLLOW_UP]
            assert again["state"]["messages"][:restored_count] == saved["state"]["messages"]
            assert "✅ 状态已保存" in console
        running.remove(second)
        second.stop()
    finally:
        for server in running:
            server.kill()

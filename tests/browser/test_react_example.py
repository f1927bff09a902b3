"""The React example (examples/react, built by Vite on @myagent/client/react) in Chromium against the real
server running examples/weather_agent.py and examples/plan_solve_report.py on the offline model.

The built files (examples/react/dist, `make react-example`) are served by a plain static HTTP server on a
free port; the page finds the agent server through its `?ws=` parameter. A person's path: ask, watch the
answer arrive, approve a confirmation, see the report's charts, reload and find the conversation again,
and find it again after the server restarted (restored from the signed state the page kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocket, expect

from myagent.cli.loader import load_agent_factory
from myagent.ws.server import AgentWebSocketServer
from tests.browser.conftest import VIEWPORT, Frames
from tests.harness import WAIT, running_server

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "examples" / "react" / "dist"
WEATHER = REPO / "examples" / "weather_agent.py"
REPORT = REPO / "examples" / "plan_solve_report.py"
SHOTS = Path("/tmp/myagent-react-example")  # screenshots for a person to look at (not asserted)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """examples/react/dist on a free port."""
    if not (DIST / "index.html").is_file():
        pytest.fail("examples/react/dist is missing: build it with `make react-example` (make test does)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(DIST))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ExamplePage:
    def __init__(self, page: Page, frames: Frames, errors: list[str]) -> None:
        self.page = page
        self.frames = frames
        self.errors = errors
        self.state_saved = asyncio.Event()  # an agent.state_exported reached the page

    def watch(self, ws: WebSocket) -> None:
        self.frames.attach(ws)
        ws.on("framereceived", lambda payload: self._saw(payload))

    def _saw(self, payload: Any) -> None:
        if isinstance(payload, str) and '"agent.state_exported"' in payload:
            self.state_saved.set()

    async def ask(self, text: str) -> None:
        box = self.page.get_by_label("消息")
        await expect(self.page.locator(".conn")).to_have_attribute("data-state", "open")
        await expect(self.page.locator("button[type=submit]")).to_be_visible()  # not busy
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    async def idle(self) -> None:
        await expect(self.page.locator(".msg.assistant").last).not_to_have_attribute("data-status", "running")
        await expect(self.page.locator("button[type=submit]")).to_be_visible()

    def answers(self) -> Any:
        return self.page.locator(".msg.assistant")

    async def shot(self, name: str) -> None:
        await self.page.wait_for_timeout(300)  # chart animations settle (the picture only)
        await self.page.screenshot(path=str(SHOTS / f"{name}.png"), animations="disabled")


@contextlib.asynccontextmanager
async def open_example(browser: Browser, site: str, server_url: str) -> AsyncIterator[ExamplePage]:
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=1)
    page = await context.new_page()
    errors: list[str] = []
    frames = Frames()
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
    example = ExamplePage(page, frames, errors)
    page.on("websocket", example.watch)
    try:
        await page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # the example has none
        await page.goto(f"{site}/?ws={server_url}")
        yield example
    finally:
        await context.close()


def ws_url(server: AgentWebSocketServer) -> str:
    return f"ws://127.0.0.1:{server.port}"


async def test_weather_chat_streams_confirms_and_survives_a_reload(browser: Browser, site: str) -> None:
    async with (
        running_server(load_agent_factory(WEATHER)) as server,
        open_example(browser, site, ws_url(server)) as example,
    ):
        page = example.page
        await expect(page.locator("h1")).to_have_text("weather_agent")  # the session is open

        await example.ask("北京和上海的天气怎么样？")
        first = example.answers().nth(0)
        await expect(first.locator(".tool[data-tool=get_weather][data-status=done]")).to_have_count(2)
        await expect(first.locator(".answer")).to_contain_text("上海今天小雨，18~23°C")
        await example.idle()
        deltas = [f["content"] for f in example.frames.received_events("agent.partial_answer")]
        final = example.frames.received_events("agent.final_answer")[0]["content"]
        assert len(deltas) > 1 and "".join(deltas) == final  # it came piece by piece
        assert await first.locator(".answer").inner_text() == final

        await example.ask("订阅上海的天气预警")
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("subscribe_weather_alert")
        await expect(dialog).to_contain_text("上海")
        card = example.answers().nth(1).locator(".tool[data-tool=subscribe_weather_alert]")
        await expect(card).to_have_attribute("data-status", "awaiting_approval")
        await example.shot("confirm")
        await dialog.get_by_role("button", name="批准").click()
        await expect(dialog).to_be_hidden()
        await expect(card).to_have_attribute("data-status", "done")
        await expect(example.answers().nth(1).locator(".answer")).to_contain_text("已为上海订阅恶劣天气预警")
        await example.idle()
        [response] = example.frames.sent_events("user.response")
        assert response["content"]["confirmed"] is True
        session_id = example.frames.received_events("agent.session_created")[0]["session_id"]
        await example.shot("weather")

        await page.reload()
        await expect(page.locator(".msg.user")).to_have_count(2)
        await expect(example.answers().nth(1).locator(".answer")).to_contain_text("已为上海订阅")
        await expect(page.locator(".conn")).to_have_attribute("data-state", "open")
        reconnects = example.frames.sent_events("user.reconnect")
        assert [f["session_id"] for f in reconnects] == [session_id]  # the same session, resumed
        await example.ask("广州明天的天气")
        await expect(example.answers().nth(2).locator(".answer")).to_contain_text("广州")
        await example.idle()
        assert not example.frames.sent_events("user.create_session")[1:]  # no second session
        assert not example.errors, example.errors


async def test_report_draws_its_charts_and_lists_the_tasks(browser: Browser, site: str) -> None:
    async with (
        running_server(load_agent_factory(REPORT)) as server,
        open_example(browser, site, ws_url(server)) as example,
    ):
        page = example.page
        await example.ask("写一份销售报告：地区和趋势")
        tasks = page.locator(".plan .task")
        await expect(tasks).to_have_count(2)
        await expect(page.locator(".plan .task[data-status=completed]")).to_have_count(2)
        await expect(example.answers().last.locator(".answer").last).to_contain_text("# 销售数据报告")
        await example.idle()
        for points, title in ((4, "各地区销售额"), (12, "月度销售额")):
            chart = page.locator(f".chart-card[data-points='{points}']")
            await expect(chart.locator("figcaption")).to_have_text(title)
            await expect(chart.locator("canvas")).to_have_count(1)
            assert await painted(chart.locator("canvas")), f"the chart {title!r} is blank"
        await page.locator(".chart-card").first.scroll_into_view_if_needed()
        await example.shot("report")
        assert not example.errors, example.errors


async def test_conversation_is_restored_after_the_server_restarts(browser: Browser, site: str) -> None:
    port = _free_port()
    factory = load_agent_factory(WEATHER)
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(_server_on(port, factory))
        example = await stack.enter_async_context(open_example(browser, site, ws_url(server)))
        page = example.page
        await example.ask("北京的天气")
        await expect(example.answers().nth(0).locator(".answer")).to_contain_text("北京今天晴")
        await example.idle()
        await asyncio.wait_for(example.state_saved.wait(), WAIT)  # the client keeps a state after each answer
        await stack.enter_async_context(_stopped(server))  # the server goes away, sessions and all
        await expect(page.locator(".conn")).to_have_attribute("data-state", "reconnecting")
        async with _server_on(port, factory):  # the same address, the same state secret, no sessions
            # "Reconnect now" instead of the client's next backoff pause (up to 10 s after a slow shutdown).
            await page.evaluate("document.querySelector('button.retry')?.click()")
            await expect(page.locator(".conn")).to_have_attribute("data-state", "open")
            await expect(page.locator(".sysline")).to_contain_text("已从保存的状态恢复会话")
            await page.reload()
            await expect(page.locator(".msg.user")).to_have_count(1)
            await expect(page.locator(".conn")).to_have_attribute("data-state", "open")
            await example.ask("上海呢？")
            await expect(example.answers().nth(1).locator(".answer")).not_to_be_empty()
            await example.idle()
            restored = example.frames.received_events("agent.state_restored")
            assert restored and restored[0]["metadata"]["message_count"] > 0  # the agent remembers
    # While the server is down, Chromium logs each refused reconnect attempt: expected here, nothing else is.
    unexpected = [e for e in example.errors if "ERR_CONNECTION_REFUSED" not in e]
    assert not unexpected, unexpected


async def painted(canvas: Any) -> bool:
    """Whether the canvas has pixels of more than one colour (ECharts drew something)."""
    script = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set(); for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
        return seen.size > 2; }"""
    return bool(await canvas.evaluate(script))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _server_on(port: int, factory: Any) -> AsyncIterator[AgentWebSocketServer]:
    server = AgentWebSocketServer(
        factory, host="127.0.0.1", port=port, state_secret_key="test-secret", heartbeat_interval=0
    )
    task = asyncio.create_task(server.start_server(log_level="warning"))
    await asyncio.wait_for(server.wait_started(), WAIT)
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            await server.shutdown()
        await asyncio.wait_for(task, WAIT)


@contextlib.asynccontextmanager
async def _stopped(server: AgentWebSocketServer) -> AsyncIterator[None]:
    await server.shutdown()
    yield

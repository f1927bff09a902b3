"""The web console at /ui/ in Chromium: chat, confirmations, cancel, charts, saved state, resume, i18n.

Each test runs an in-process server (tests/harness.py) on a free port and drives the page as a
person would: typing and pressing keys, clicking buttons. Plan & Solve: see test_console_plan.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.cli.loader import load_agent_factory
from myagent.llm import FunctionModel, ScriptedModel, ScriptedReply, call
from myagent.llm.base import Model, ModelRequest
from myagent.tool import BaseTool, ToolResult
from myagent.ws.server import AgentWebSocketServer
from tests.browser.conftest import REPO, Console, open_console, wire_field
from tests.harness import WAIT, find_session, running_server

pytestmark = pytest.mark.browser

WEATHER = REPO / "examples" / "weather_agent.py"


class Agents:
    """An agent factory that keeps every session's model, to hold or release its replies."""

    def __init__(self, model: Callable[[], Model], *tools: Callable[[], BaseTool], name: str = "console_agent") -> None:
        self.model = model
        self.tools = tools
        self.name = name
        self.models: list[Model] = []

    def __call__(self) -> ToolCallAgent:
        model = self.model()
        self.models.append(model)
        return create_toolcall_agent(
            llm=model, tools=[make() for make in self.tools], name=self.name, description="Test agent of the console"
        )

    @property
    def last(self) -> Any:
        return self.models[-1]


async def holding(model: Any) -> None:
    await asyncio.wait_for(model.holding.wait(), WAIT)


def answers(console: Console) -> Any:
    return console.page.locator(".turn-agent .turn-body > .answer")


# -- chat ----------------------------------------------------------------------------------------


async def test_streamed_answer_grows_then_settles(browser: Browser) -> None:
    text = "Streaming answers arrive piece by piece and settle at the end."
    agents = Agents(lambda: ScriptedModel([ScriptedReply(text=text, chunk_size=4, hold_after=3)]))
    async with running_server(agents) as server, open_console(browser, server) as console:
        await console.ask("Tell me something")
        await expect(console.page.locator(".turn-user .bubble")).to_have_text("Tell me something")
        await holding(agents.last)
        answer = answers(console)
        await expect(answer).to_have_text("Streaming an")  # three deltas so far, still streaming
        await expect(answer).to_have_class(re.compile(r"\bstreaming\b"))
        await expect(console.page.locator("#stop")).to_be_visible()
        agents.last.release()
        await expect(answer).to_have_text(text)
        await expect(answer).not_to_have_class(re.compile(r"\bstreaming\b"))
        await expect(console.page.locator(".turn-agent .turn-foot")).to_contain_text("1 step")
        await console.wait_idle()
        assert [f["content"] for f in console.frames.sent_events("user.message")] == ["Tell me something"]


async def test_weather_question_shows_tool_cards_and_answer(browser: Browser) -> None:
    async with running_server(load_agent_factory(WEATHER)) as server, open_console(browser, server) as console:
        await expect(console.page.locator("#agent-name")).to_have_text("weather_agent")
        await console.ask("北京和上海的天气怎么样？")
        cards = console.page.locator(".tool")
        await expect(cards).to_have_count(2)
        await expect(cards.nth(0).locator(".tool-name")).to_have_text("get_weather")
        await expect(cards.nth(0)).to_have_attribute("data-status", "success")
        await expect(cards.nth(1).locator(".tool-preview")).to_have_text("city=上海")
        await expect(answers(console)).to_contain_text("北京今天晴，12~24°C")
        await expect(answers(console)).to_contain_text("上海今天小雨，18~23°C")
        await console.wait_idle()
        # A card opens to show the arguments and the result.
        await cards.nth(0).locator("summary").click()
        await expect(cards.nth(0).locator(".tool-body")).to_contain_text('"city": "北京"')
        await expect(cards.nth(0).locator(".tool-body")).to_contain_text("北京今天晴")
        await console.ask("广州的天气呢？")
        await expect(answers(console).nth(1)).to_contain_text("广州今天雷阵雨")
        await console.wait_idle()
        await cards.nth(0).locator("summary").click()  # fold it again for the picture
        await console.transcript.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
        await console.screenshot("chat")


# -- confirmations -------------------------------------------------------------------------------


async def test_confirmation_approved_with_the_keyboard_only(browser: Browser) -> None:
    async with (
        running_server(load_agent_factory(WEATHER)) as server,
        open_console(browser, server, locale="zh-CN") as console,
    ):
        page = console.page
        assert await _focused(page, "#input"), "the composer has the focus after loading"
        await page.keyboard.type("订阅上海的天气预警")
        await page.keyboard.press("Enter")
        dialog = page.locator("#confirm-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("允许运行这个工具吗？")
        await expect(dialog.locator(".tool-chip")).to_have_text("subscribe_weather_alert")
        await expect(dialog.locator(".args-table")).to_contain_text("上海")
        await expect(dialog.locator(".expiry")).to_contain_text(re.compile(r"[45]:\d\d 后过期"))
        await expect(page.locator(".tool")).to_have_attribute("data-status", "awaiting")
        assert await _focused(page, "#confirm-dialog .btn-primary"), "Approve should have the focus"
        await console.screenshot("confirm")
        # Focus stays inside the dialog in both directions.
        for key in ["Tab"] * 6 + ["Shift+Tab"] * 9:
            await page.keyboard.press(key)
            assert await page.evaluate("document.getElementById('confirm-dialog').contains(document.activeElement)")
        while not await _focused(page, "#confirm-dialog .btn-primary"):
            await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        await expect(page.locator(".tool")).to_have_attribute("data-status", "success")
        await expect(answers(console)).to_contain_text("已为上海订阅恶劣天气预警")
        await console.wait_idle()
        assert await _focused(page, "#input"), "focus should return to the composer"
        [response] = console.frames.sent_events("user.response")
        assert response["content"] == {"confirmed": True}
        assert response["step_id"].startswith("confirm_")


async def test_confirmation_refused_with_a_note_and_with_escape(browser: Browser) -> None:
    async with running_server(load_agent_factory(WEATHER)) as server, open_console(browser, server) as console:
        page = console.page
        dialog = page.locator("#confirm-dialog")
        await console.ask("订阅北京的天气预警")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator("h2")).to_have_text("Allow this tool to run?")
        await dialog.get_by_label("Note to the agent (optional)").fill("No text messages, please")
        await dialog.get_by_role("button", name="Refuse").click()
        await expect(dialog).to_be_hidden()
        card = page.locator(".tool").first
        await expect(card).to_have_attribute("data-status", "refused")
        await expect(card.locator(".badge")).to_have_text("refused")
        await console.wait_idle()
        first = console.frames.sent_events("user.response")[0]
        assert first["content"] == {"confirmed": False, "message": "No text messages, please"}

        await console.ask("订阅深圳的天气预警")
        await expect(dialog).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        await expect(page.locator(".tool").nth(1)).to_have_attribute("data-status", "refused")
        await console.wait_idle()
        second = console.frames.sent_events("user.response")[1]
        assert second["content"] == {"confirmed": False}
        assert not console.frames.sent_events("user.cancel"), "Escape in the dialog refuses; it does not cancel"


# -- cancel --------------------------------------------------------------------------------------


class WaitForData(BaseTool):
    name = "wait_for_data"
    description = "Waits for data that never comes"

    def __init__(self, started: asyncio.Event) -> None:
        self.started = started

    async def execute(self, source: str) -> ToolResult:
        """Wait.

        Args:
            source: where the data comes from
        """
        self.started.set()
        await asyncio.Event().wait()
        return ToolResult(output="unreachable")


async def test_cancel_while_streaming_and_while_a_tool_waits(browser: Browser) -> None:
    started = asyncio.Event()
    script: list[Any] = [
        ScriptedReply(text="A long answer that will be stopped halfway through.", chunk_size=5, hold_after=2),
        call("wait_for_data", {"source": "warehouse"}),
        "Third time lucky.",
    ]
    agents = Agents(lambda: ScriptedModel(script), lambda: WaitForData(started))
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        turns = page.locator(".turn-agent")
        # 1. Stop button while the answer streams.
        await console.ask("Start a long answer")
        await holding(agents.last)
        await expect(answers(console)).to_have_text("A long ans")
        await page.locator("#stop").click()
        await expect(turns.nth(0)).to_have_attribute("data-state", "stopped")
        await expect(turns.nth(0).locator(".turn-foot")).to_have_text("Stopped")
        await console.wait_idle()
        # 2. Escape while a tool waits for something that never happens.
        await console.ask("Fetch the data")
        await asyncio.wait_for(started.wait(), WAIT)
        await expect(page.locator(".tool")).to_have_attribute("data-status", "running")
        await expect(page.locator("#input")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(turns.nth(1)).to_have_attribute("data-state", "stopped")
        await expect(page.locator(".tool")).to_have_attribute("data-status", "cancelled")
        await console.wait_idle()
        # 3. The session is usable afterwards.
        await console.ask("Try again")
        await expect(answers(console).last).to_have_text("Third time lucky.")
        await console.wait_idle()
        assert len(console.frames.sent_events("user.cancel")) == 2
        assert len(console.frames.received_events("agent.interrupted")) == 2


# -- charts --------------------------------------------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
SALES_OPTION = {
    "title": {"text": "Monthly sales"},
    "legend": {"data": ["Online", "Stores"]},
    "xAxis": {"type": "category", "data": MONTHS},
    "yAxis": {"type": "value"},
    "series": [
        {"name": "Online", "type": "bar", "data": [120, 132, 101, 134, 190, 230]},
        {"name": "Stores", "type": "line", "data": [220, 182, 191, 234, 290, 330]},
    ],
}
ROWS = [
    {"region": "North", "revenue": 4200},
    {"region": "South", "revenue": 3100},
    {"region": "East", "revenue": 5300},
    {"region": "West", "revenue": 2400},
]


# Resolves once the first chart's blue bars cover enough of its canvas (they grow in with an animation).
BARS_PAINTED = """(canvas) => new Promise((resolve, reject) => {
        const deadline = Date.now() + 10000;
        const check = () => {
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let blue = 0;
            for (let i = 0; i < data.length; i += 16) {
                if (data[i + 3] > 200 && data[i + 2] > 150 && data[i] < 120) blue++;
            }
            if (blue > 2000) resolve(blue);
            else if (Date.now() > deadline) reject(new Error(`only ${blue} painted samples`));
            else setTimeout(check, 100);
        };
        check();
    })"""


class SalesChart(BaseTool):
    name = "sales_chart"
    description = "Draws monthly sales as an ECharts chart"

    async def execute(self) -> ToolResult:
        return ToolResult(output="Chart of monthly sales: 6 months, 2 series", data=SALES_OPTION)


class DataVisual(BaseTool):
    """The visualization guide's payload: rows in ``data``, the chart in the call's arguments."""

    name = "data_visual"
    description = "Runs a query and visualises the rows"

    async def execute(self, chart_type: str, x_field: str, y_fields: list[str], title: str = "") -> ToolResult:
        """Visualise.

        Args:
            chart_type: bar, line, pie or scatter
            x_field: the category column
            y_fields: the value columns
            title: the chart title
        """
        return ToolResult(output=f"Visualization created. Data rows: {len(ROWS)}, Chart type: {chart_type}", data=ROWS)


async def test_charts_from_tool_results_are_drawn(browser: Browser) -> None:
    visual_args = {"chart_type": "pie", "x_field": "region", "y_fields": ["revenue"], "title": "Revenue by region"}
    script: list[Any] = [
        [call("sales_chart"), call("data_visual", visual_args)],
        "Online sales grew steadily and passed 200 in June; the East region brings the most revenue.",
    ]
    agents = Agents(lambda: ScriptedModel(script), SalesChart, DataVisual, name="sales_analyst")
    async with running_server(agents) as server, open_console(browser, server) as console:
        await console.ask("How did sales develop this year?")
        charts = console.page.locator(".chart-card")
        await expect(charts).to_have_count(2)
        await expect(charts.nth(0).locator(".chart-title")).to_have_text("Monthly sales")
        await expect(charts.nth(1).locator(".chart-title")).to_have_text("Revenue by region")
        for index in range(2):
            canvas = charts.nth(index).locator(".chart canvas")
            await expect(canvas).to_be_visible()
            box = await canvas.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 200, box
        await expect(charts.nth(0).locator(".chart")).to_have_attribute("aria-label", "Chart: Monthly sales")
        await expect(answers(console)).to_contain_text("East region")
        await console.wait_idle()
        # Drawn pixels, not an empty canvas: wait until the bars of the first chart have grown in.
        await charts.nth(0).locator(".chart canvas").evaluate(BARS_PAINTED)
        await console.page.locator("#transcript").evaluate("(el) => el.scrollTo(0, 0)")
        await console.screenshot("chart")


# -- saved state ---------------------------------------------------------------------------------


def remembering_model() -> FunctionModel:
    """Answers with every question of the conversation so far: shows what the agent remembers."""

    def reply(request: ModelRequest) -> str:
        questions = [m.content for m in request.messages if m.role == "user"]
        return f"I remember {len(questions)} question(s): " + " | ".join(str(q) for q in questions)

    return FunctionModel(reply)


async def test_save_reload_restore_and_continue(browser: Browser) -> None:
    agents = Agents(remembering_model, name="memory_agent")
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        await page.locator("#autosave").uncheck()  # saved only with the button in this test
        await console.ask("first question")
        await expect(answers(console)).to_have_text("I remember 1 question(s): first question")
        await console.wait_idle()
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.locator("#saved-info")).to_contain_text("Saved")
        await expect(page.locator(".toast")).to_contain_text("Session state saved")
        original = await console.session_id()

        await page.reload()
        offer = page.locator('.banner[data-banner="offer"]')
        await expect(offer).to_contain_text("A saved session")
        await expect(page.locator("#session-id")).to_have_text("—")  # nothing created while the offer stands
        await offer.get_by_role("button", name="Restore").click()
        await expect(offer).to_be_hidden()
        await expect(page.locator(".sysline")).to_contain_text("Session re-attached")
        await expect(page.locator(".turn-user .bubble")).to_have_text(["first question"])
        await expect(answers(console)).to_have_text(["I remember 1 question(s): first question"])
        assert await console.session_id() == original  # the live session was re-attached

        await console.ask("second question")
        await expect(answers(console).nth(1)).to_have_text("I remember 2 question(s): first question | second question")
        await console.wait_idle()
        await expect(page.locator(".turn-user .bubble")).to_have_text(["first question", "second question"])
        [restore] = console.frames.sent_events("user.reconnect_with_state")
        assert wire_field(restore, "signed_state")["signature"]


async def test_restore_after_the_server_lost_the_session(browser: Browser) -> None:
    agents = Agents(remembering_model, name="memory_agent")
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        await console.ask("what is a signed state?")
        await expect(answers(console)).to_contain_text("I remember 1 question(s)")
        await console.wait_idle()
        await expect(page.locator("#saved-info")).to_contain_text("Saved")  # saved automatically
        original = await console.session_id()
        session = find_session(server, original)
        assert session is not None
        await server.service.close(original, "expired")  # as if the grace period ran out
        ended = page.locator('.banner[data-banner="ended"]')
        await expect(ended).to_contain_text("The session has ended (expired)")

        await page.reload()
        await page.locator('.banner[data-banner="offer"]').get_by_role("button", name="Restore").click()
        await expect(page.locator(".sysline")).to_contain_text("Session restored · 2 messages")
        restored = await console.session_id()
        assert restored != original
        await expect(page.locator(".turn-user .bubble")).to_have_text(["what is a signed state?"])
        await console.ask("and after a restart?")
        await expect(answers(console).nth(1)).to_have_text(
            "I remember 2 question(s): what is a signed state? | and after a restart?"
        )
        await console.wait_idle()


@contextlib.asynccontextmanager
async def serving(factory: Callable[[], Any], port: int) -> AsyncIterator[AgentWebSocketServer]:
    """A server on ``port`` with the key of tests/harness.py's servers: a restarted one."""
    server = AgentWebSocketServer(
        factory, host="127.0.0.1", port=port, state_secret_key="test-secret", heartbeat_interval=0
    )
    task = asyncio.create_task(server.start_server(log_level="warning"))
    await asyncio.wait_for(server.wait_started(), WAIT)
    try:
        yield server
    finally:
        await server.shutdown()
        await asyncio.wait_for(task, WAIT)


async def test_the_session_comes_back_by_itself_after_a_server_restart(browser: Browser) -> None:
    """The client reconnects to the new process, which no longer knows the session: it restores the saved state."""
    agents = Agents(remembering_model, name="memory_agent")
    async with serving(agents, 0) as first:
        port = first.port
        async with open_console(browser, first) as console:
            page = console.page
            await console.ask("remember the number 42")
            await expect(answers(console)).to_contain_text("I remember 1 question(s)")
            await console.wait_idle()
            await expect(page.locator("#saved-info")).to_contain_text("Saved")  # saved automatically
            original = await console.session_id()
            await first.shutdown()  # the process stops (the page stays open) ...
            await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
            async with serving(agents, port):  # ... and a new one starts on the same port
                await expect(page.locator("#conn")).to_have_attribute("data-state", "online")
                await expect(page.locator(".sysline-ok")).to_contain_text("Session restored · 2 messages")
                await expect(page.locator("#session-id")).not_to_have_text(original)
                await console.ask("what did I ask first?")
                await expect(answers(console).nth(1)).to_have_text(
                    "I remember 2 question(s): remember the number 42 | what did I ask first?"
                )
                await console.wait_idle()
                await expect(page.locator(".turn-user")).to_have_count(2)  # the conversation stayed on screen
                [restore] = console.frames.sent_events("user.reconnect_with_state")
                assert wire_field(restore, "signed_state")["signature"]


async def test_restoring_the_live_session_and_a_tampered_state(browser: Browser) -> None:
    agents = Agents(remembering_model, name="memory_agent")
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        await console.ask("keep this between us")
        await console.wait_idle()
        await expect(page.locator("#saved-info")).to_contain_text("Saved")
        # Restoring the live session on screen re-attaches it as it is: nothing shown twice.
        await page.get_by_role("button", name="Restore", exact=True).click()
        await expect(page.locator(".sysline-ok")).to_contain_text("Session re-attached")
        await expect(page.locator(".turn-user")).to_have_count(1)
        await expect(answers(console)).to_have_count(1)
        record = json.loads(await page.evaluate("localStorage.getItem('myagent.console.saved')"))
        record["signed_state"]["state"]["messages"][0]["content"] = "something I never said"
        exported = {"name": "tampered.json", "mimeType": "application/json", "buffer": json.dumps(record).encode()}
        await page.locator("#import-state").set_input_files(files=[exported])
        failed = page.locator('.banner[data-banner="lost"]')
        await expect(failed).to_contain_text("Could not restore the session: STATE_CHECKSUM_MISMATCH")
        await expect(page.locator(".sysline-error")).to_contain_text("STATE_CHECKSUM_MISMATCH")
        await failed.get_by_role("button", name="Start new").click()
        await console.ask("who are you?")
        await expect(answers(console).last).to_have_text("I remember 1 question(s): who are you?")
        await console.wait_idle()


async def test_the_first_connection_is_retried_until_it_succeeds(browser: Browser) -> None:
    """The page loads while its WebSocket is refused (a proxy not ready yet): it keeps trying, then works."""
    attempts: list[str] = []

    async def refuse_twice(page: Page) -> None:
        async def route(ws: Any) -> None:
            attempts.append(ws.url)
            if len(attempts) <= 2:
                await ws.close(code=1011, reason="not ready")
            else:
                ws.connect_to_server()  # from now on, frames pass through untouched

        await page.route_web_socket(re.compile(r"/ws$"), route)

    async with (
        running_server(load_agent_factory(WEATHER)) as server,
        open_console(browser, server, setup=refuse_twice) as console,
    ):
        await console.ask("北京天气怎么样？")
        await expect(answers(console)).to_contain_text("北京今天晴")
        await console.wait_idle()
        assert len(attempts) == 3, attempts


async def test_a_session_taken_over_by_another_tab_can_be_taken_back(browser: Browser) -> None:
    agents = Agents(remembering_model, name="memory_agent")
    async with running_server(agents) as server, open_console(browser, server) as console:
        first = console.page
        await console.ask("who keeps this session?")
        await console.wait_idle()
        await expect(first.locator("#saved-info")).to_contain_text("Saved")
        original = await console.session_id()

        # A second tab of the same browser restores the saved state: the live session moves there.
        second = await first.context.new_page()
        second.on("pageerror", lambda exc: console.errors.append(f"second tab: {exc}"))
        await second.goto(f"{console.base}/ui/")
        await second.locator('.banner[data-banner="offer"]').get_by_role("button", name="Restore").click()
        await expect(second.locator(".sysline-ok")).to_contain_text("Session re-attached")
        await expect(second.locator("#session-id")).to_have_text(original)
        taken = first.locator('.banner[data-banner="taken"]')
        await expect(taken).to_contain_text("opened in another window")
        await expect(first.locator("#save-state")).to_be_disabled()

        # "Use it here" takes it back; now the second tab is told.
        await taken.get_by_role("button", name="Use it here").click()
        await expect(taken).to_be_hidden()
        await expect(second.locator('.banner[data-banner="taken"]')).to_be_visible()
        await console.ask("and now?")
        await expect(answers(console).last).to_have_text("I remember 2 question(s): who keeps this session? | and now?")
        await console.wait_idle()
        assert await console.session_id() == original
        await expect(first.locator(".turn-user")).to_have_count(2)


# -- resume --------------------------------------------------------------------------------------


async def test_resume_after_the_server_drops_the_connection(browser: Browser) -> None:
    text = "Alpha beta gamma delta epsilon zeta eta theta."
    agents = Agents(lambda: ScriptedModel([ScriptedReply(text=text, chunk_size=5, hold_after=2), "Still here."]))
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        await console.ask("Count in Greek")
        await holding(agents.last)
        await expect(answers(console)).to_have_text("Alpha beta")
        first_socket = console.frames.sockets
        await page.evaluate(
            "window.__states = [];"
            "window.myagentConsole.client.on('status', (change) => window.__states.push(change.status));"
            "undefined"  # not the function on() returns: Playwright would call it (and stop listening)
        )
        for connection in list(server.gateway.connections):
            await connection.close_going_away()  # the server drops the socket mid-answer ...
        agents.last.release()  # ... and the run goes on without it: its events are retained
        await expect(page.locator(".sysline-warn")).to_contain_text("Connection lost. Reconnecting…")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "online")
        await expect(answers(console)).to_have_text(text)
        await console.wait_idle()
        await expect(page.locator(".sysline-ok")).to_contain_text("Connection restored")
        assert console.frames.sockets == first_socket + 1
        states = await page.evaluate("window.__states")
        assert states[0] == "reconnecting" and states[-1] == "open", states
        [resume] = console.frames.sent_events("user.reconnect")
        assert resume["session_id"] == await console.session_id()
        assert wire_field(resume, "resume_token")
        assert wire_field(resume, "last_event_id").startswith(resume["session_id"] + ":")
        # Exactly one of everything on screen.
        await expect(page.locator(".turn-user")).to_have_count(1)
        await expect(page.locator(".turn-agent")).to_have_count(1)
        await expect(answers(console)).to_have_count(1)
        await console.ask("Are you still there?")
        await expect(answers(console).nth(1)).to_have_text("Still here.")
        await console.wait_idle()


async def test_replayed_and_repeated_events_are_shown_once(browser: Browser) -> None:
    """A proxy in the page repeats every sequenced frame: the console drops the copies by event_id."""
    text = "Each piece of this answer arrives twice on the wire."
    agents = Agents(lambda: ScriptedModel([call("sales_chart"), ScriptedReply(text=text, chunk_size=3)]), SalesChart)

    async def duplicate_frames(page: Page) -> None:
        def route(ws: Any) -> None:
            server = ws.connect_to_server()

            def forward(message: str | bytes) -> None:
                ws.send(message)
                if isinstance(message, str) and '"event_id"' in message:
                    ws.send(message)

            server.on_message(forward)

        await page.route_web_socket(re.compile(r"/ws$"), route)

    async with running_server(agents) as server, open_console(browser, server, setup=duplicate_frames) as console:
        await console.ask("Show me")
        await expect(answers(console)).to_have_text(text)
        await console.wait_idle()
        await expect(console.page.locator(".tool")).to_have_count(1)
        await expect(console.page.locator(".chart-card")).to_have_count(1)
        await expect(console.page.locator(".turn-agent")).to_have_count(1)
        dropped = await console.page.evaluate("window.myagentConsole.session.duplicatesDropped")
        assert dropped > 10, dropped


# -- language and accessibility ------------------------------------------------------------------


async def test_language_follows_the_browser_and_the_toggle_persists(browser: Browser) -> None:
    async with running_server(load_agent_factory(WEATHER)) as server:
        async with open_console(browser, server, locale="zh-CN") as console:
            page = console.page
            await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            await expect(page.locator("#conn-text")).to_have_text("已连接")
            await expect(page.locator("#send")).to_have_text("发送")
            await page.get_by_role("button", name="Switch to English").click()
            await expect(page.locator("#send")).to_have_text("Send")
            await expect(page.locator("#input")).to_have_attribute("placeholder", "Ask the agent…")
            await page.reload()
            await expect(page.locator("#send")).to_have_text("Send")  # the choice outlives a reload
        async with open_console(browser, server, locale="en-GB") as console:
            await expect(console.page.locator("html")).to_have_attribute("lang", "en")
            await expect(console.page.locator("#conn-text")).to_have_text("Connected")


UNNAMED_CONTROLS = """() => {
    const named = (el) => {
        const labelled = el.getAttribute('aria-labelledby');
        const text = [
            el.getAttribute('aria-label'),
            labelled && labelled.split(' ').map((id) => document.getElementById(id)?.textContent).join(' '),
            ...(el.labels ? [...el.labels].map((l) => l.textContent) : []),
            el.tagName === 'BUTTON' || el.tagName === 'SUMMARY' ? el.textContent : '',
            el.getAttribute('title'),
        ].filter(Boolean).join(' ').trim();
        return text.length > 0;
    };
    return [...document.querySelectorAll('button, input, textarea, select, summary, [role=button]')]
        .filter((el) => !named(el))
        .map((el) => el.outerHTML.slice(0, 120));
}"""


async def test_every_control_has_a_label_and_focus_is_visible(browser: Browser) -> None:
    async with running_server(load_agent_factory(WEATHER)) as server, open_console(browser, server) as console:
        page = console.page
        await console.ask("北京的天气")
        await console.wait_idle()
        assert await page.evaluate(UNNAMED_CONTROLS) == []
        await console.ask("订阅广州的天气预警")
        await expect(page.locator("#confirm-dialog")).to_be_visible()
        assert await page.evaluate(UNNAMED_CONTROLS) == []
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", "the focused Approve button shows a focus ring"
        await page.keyboard.press("Enter")
        await console.wait_idle()
        await page.keyboard.press("Shift+Tab")  # from the composer to a visible, focusable control
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"


# -- helpers -------------------------------------------------------------------------------------


async def _focused(page: Page, selector: str) -> bool:
    return bool(await page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector))


# -- request errors ------------------------------------------------------------------------------

# Keeps the page's sockets reachable (window.__sockets) so that a test can send what an older client would.
SOCKETS = """
(() => {
  const NativeWebSocket = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
})();
"""


async def test_a_request_error_during_a_run_is_shown_and_the_run_goes_on(browser: Browser) -> None:
    agents = Agents(lambda: ScriptedModel([ScriptedReply(text="Still answering after the error.", hold_after=1)]))

    async def setup(page: Page) -> None:
        await page.add_init_script(SOCKETS)

    async with running_server(agents) as server, open_console(browser, server, setup=setup) as console:
        page = console.page
        session_id = await console.session_id()
        await console.ask("Answer slowly")
        await holding(agents.last)
        # A confirmation answer for a step that does not exist: the server answers with an unsequenced
        # agent.error of this session, which ends no run.
        bogus = {
            "event": "user.response",
            "session_id": session_id,
            "step_id": "confirm_gone",
            "content": {"confirmed": True},
        }
        await page.evaluate("(frame) => window.__sockets.at(-1).send(JSON.stringify(frame))", bogus)
        await expect(page.locator("#toasts")).to_contain_text("STEP_NOT_FOUND")
        [error] = console.frames.received_events("agent.error")
        assert error["session_id"] == session_id and "seq" not in error
        await expect(page.locator("#run-state")).to_have_attribute("data-state", "running")
        await expect(page.locator("#stop")).to_be_visible()
        agents.last.release()
        await expect(answers(console).last).to_have_text("Still answering after the error.")
        await console.wait_idle()
        await expect(page.locator(".turn-agent").last).not_to_have_attribute("data-state", "error")

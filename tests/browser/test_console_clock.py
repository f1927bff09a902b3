"""The console in Chinese shows times of day on the 24-hour clock, whatever the browser's own locale."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from myagent.cli.loader import load_agent_factory
from tests.browser.conftest import REPO, open_console
from tests.harness import running_server

pytestmark = pytest.mark.browser

WEATHER = REPO / "examples" / "weather_agent.py"

# hours and minutes of each <time> element, as the page's own clock reads its datetime attribute
CLOCKS = """() => [...document.querySelectorAll('.turn-head time')].map((el) => {
    const at = new Date(el.getAttribute('datetime'));
    return { text: el.textContent, hours: at.getHours(), minutes: at.getMinutes() };
})"""


async def test_chinese_console_in_an_english_browser_shows_24_hour_times(browser: Browser) -> None:
    # en-US writes "02:05 PM"; the console switched to Chinese must write "14:05"
    async with (
        running_server(load_agent_factory(WEATHER)) as server,
        open_console(browser, server, locale="en-US") as console,
    ):
        page = console.page
        await page.get_by_role("button", name="切换到中文").click()
        await expect(page.locator("#send")).to_have_text("发送")
        await console.ask("北京天气怎么样？")
        await expect(page.locator(".turn-agent .turn-body > .answer")).to_contain_text("北京今天晴")
        await console.wait_idle()
        clocks = await page.evaluate(CLOCKS)
        assert len(clocks) == 2, clocks  # the question and the answer
        for clock in clocks:
            assert re.fullmatch(r"\d{2}:\d{2}", clock["text"]), clock
            assert clock["text"] == f"{clock['hours']:02d}:{clock['minutes']:02d}", clock

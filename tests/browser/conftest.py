"""Chromium (Debian's, driven by Playwright) against the web console of an in-process server."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, WebSocket, expect

from myagent.ws.server import AgentWebSocketServer

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
WAIT_MS = 15_000  # Playwright's bound for one expected change of the page
VIEWPORT = {"width": 1280, "height": 800}

expect.set_options(timeout=WAIT_MS)


@dataclass
class Frames:
    """Every WebSocket frame the page sent and received, decoded."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    sockets: int = 0

    def attach(self, ws: WebSocket) -> None:
        self.sockets += 1
        ws.on("framesent", lambda payload: self.sent.append(_decode(payload)))
        ws.on("framereceived", lambda payload: self.received.append(_decode(payload)))

    def sent_events(self, name: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("event") == name]

    def received_events(self, name: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("event") == name]


def _decode(payload: Any) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (TypeError, ValueError):
        return {"event": "<binary>"}
    return value if isinstance(value, dict) else {"event": "<not an object>"}


def wire_field(frame: dict[str, Any], key: str) -> Any:
    """``key`` of a sent frame, at the top level or in ``content`` (the server accepts both)."""
    content = frame.get("content")
    if isinstance(content, dict) and key in content:
        return content[key]
    return frame[key]


@dataclass
class Console:
    page: Page
    frames: Frames
    errors: list[str]
    base: str

    @property
    def transcript(self) -> Any:
        return self.page.locator("#transcript")

    async def session_id(self) -> str:
        await expect(self.page.locator("#session-id")).not_to_have_text("—")
        return (await self.page.locator("#session-id").inner_text()).strip()

    async def ask(self, text: str) -> None:
        """Type into the composer and press Enter (the keyboard path)."""
        composer = self.page.locator("#input")
        await composer.fill(text)
        await composer.press("Enter")
        await expect(composer).to_have_value("")

    async def wait_idle(self) -> None:
        await expect(self.page.locator("#run-state")).to_have_attribute("data-state", "idle")
        await expect(self.page.locator("#send")).to_be_visible()

    async def screenshot(self, name: str) -> None:
        """docs/images/console-NAME.png, when MYAGENT_SCREENSHOTS=1."""
        if os.environ.get("MYAGENT_SCREENSHOTS") != "1":
            return
        IMAGES.mkdir(parents=True, exist_ok=True)
        await self.page.wait_for_timeout(400)  # let chart animations and the caret settle
        await self.page.screenshot(path=str(IMAGES / f"console-{name}.png"), animations="disabled")


@contextlib.asynccontextmanager
async def open_console(
    browser: Browser,
    server: AgentWebSocketServer,
    *,
    locale: str = "en-US",
    create_session: bool = True,
    setup: Callable[[Page], Any] | None = None,
) -> AsyncIterator[Console]:
    """The console of ``server`` in a fresh browser context; fails on any uncaught script error."""
    context = await browser.new_context(viewport=VIEWPORT, locale=locale, device_scale_factor=1)
    page = await context.new_page()
    errors: list[str] = []
    frames = Frames()
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
    page.on("websocket", frames.attach)
    if setup is not None:
        await setup(page)
    base = f"http://127.0.0.1:{server.port}"
    console = Console(page, frames, errors, base)
    try:
        await page.goto(f"{base}/")
        await expect(page).to_have_url(f"{base}/ui/")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "online")
        if create_session:
            await console.session_id()
        yield console
        assert not errors, errors
    finally:
        await context.close()

"""The visualization guide's chart client, run as written in Chromium against the report example.

``visualization-integration.md`` (one of the guides quick-start.md links) shows a ``VisualizationHandler``
that pairs ``agent.tool_call`` and ``agent.tool_result`` of the ``data_visual`` tool by ``step_id`` and
draws an ECharts chart from ``metadata.args`` and ``metadata.data``. Its code is read from the guide at
test time: the class, its methods (which the guide prints as loose method blocks, attached here to the
class unchanged) and the page of its section 4.1. Only two things of that page change: the server URL
it hard-codes, and the ECharts CDN script, replaced by the copy the console ships (no network here).
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.async_api import Browser, expect

from tests.acceptance.guide import REPO, ServerProcess, at_url, code_blocks, free_port

REPORT_EXAMPLE = REPO / "examples" / "plan_solve_report.py"
ECHARTS = REPO / "src" / "myagent" / "ui" / "static" / "vendor" / "echarts" / "echarts.esm.min.js"
QUESTION = "写一份销售报告：地区"  # the report example plans one section (regions), with one chart
WAIT_MS = 30_000  # Playwright's bound for one expected change of the page (a Plan & Solve run)
_GUIDE_CANDIDATES = (
    REPO / "docs" / "visualization-integration.md",
    Path("/work/shared/reference/visualization-integration.md"),
)
_CDN_SCRIPT = re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/echarts[^"]*"></script>')
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

pytestmark = pytest.mark.browser


def visualization_guide() -> Path:
    override = os.environ.get("MYAGENT_VISUALIZATION_GUIDE")
    candidates = (Path(override),) if override else _GUIDE_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail(f"visualization-integration.md was not found (looked at: {', '.join(map(str, candidates))})")


def guide_block(lang: str, *markers: str) -> str:
    """The one ``lang`` block of the visualization guide containing every marker."""
    matches = [
        b.code for b in code_blocks(visualization_guide()) if b.lang == lang and all(m in b.code for m in markers)
    ]
    if len(matches) != 1:
        pytest.fail(f"expected one ```{lang} block with {markers!r} in the visualization guide, found {len(matches)}")
    return matches[0]


def handler_script() -> str:
    """``VisualizationHandler`` as the guide writes it: the class (1.2) and its method blocks (2.2, 3.1, 3.2)."""
    parts = [guide_block("javascript", "class VisualizationHandler", "handleToolCall(data)")]
    definitions = ("handleToolResult(data) {", "createEChartsVisualization(container, params, data) {")
    for marker in (*definitions, "createChartContainer(stepId) {"):
        methods = guide_block("javascript", marker)
        # The guide prints these as methods outside any class: they become the class's methods as they are.
        parts.append(ATTACH_METHODS.replace("/* METHODS */", methods))
    return "\n".join(parts)


# Adds the methods of a class body to VisualizationHandler (the guide's loose method blocks go in the body).
ATTACH_METHODS = """
(() => {
  const methods = (class {
/* METHODS */
  }).prototype;
  for (const name of Object.getOwnPropertyNames(methods)) {
    if (name !== "constructor") {
      Object.defineProperty(VisualizationHandler.prototype, name, Object.getOwnPropertyDescriptor(methods, name));
    }
  }
})();
"""


def guide_page(url: str) -> str:
    """Section 4.1's page, pointed at ``url``, with the handler and a local ECharts instead of the CDN."""
    html = at_url(guide_block("html", "VisualizationHandler(websocket)", "<!DOCTYPE html>"), url)
    if len(_CDN_SCRIPT.findall(html)) != 1 or len(_INLINE_SCRIPT.findall(html)) != 1:
        pytest.fail("the guide's page no longer loads ECharts from jsDelivr with one inline script: update this test")
    local = (
        '<script src="visualization-handler.js"></script>\n'
        '    <script type="module">import * as echarts from "./echarts.esm.min.js"; window.echarts = echarts;</script>'
    )
    return _CDN_SCRIPT.sub(lambda _: local, html)


# Loaded before the page's scripts: records every frame received, without changing what the page does.
RECORDER = """
(() => {
  const NativeWebSocket = window.WebSocket;
  window.__received = [];
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => window.__received.push(JSON.parse(event.data)));
    }
  };
})();
"""


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
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
def report_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The Plan & Solve report example (offline model) on a free port of localhost."""
    port = free_port()
    argv = [sys.executable, "-m", "myagent.cli.server", "server", str(REPORT_EXAMPLE)]
    server = ServerProcess([*argv, "--host", "localhost", "--port", str(port)], tmp_path / "server", "report", port)
    with server.running():
        yield server


@pytest.fixture
def page_url(tmp_path: Path, report_server: ServerProcess) -> Iterator[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(guide_page(report_server.url), encoding="utf-8")
    (site / "visualization-handler.js").write_text(handler_script(), encoding="utf-8")
    shutil.copy(ECHARTS, site / ECHARTS.name)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_SiteHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


async def test_the_guides_chart_client_draws_the_report_examples_chart(browser: Browser, page_url: str) -> None:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
    await page.add_init_script(RECORDER)
    try:
        await page.goto(page_url)
        # The page creates a session on open but keeps no session id; ask through its socket as its
        # requestVisualization() does, with the id the server gave.
        created = await page.wait_for_function(
            "window.__received.find((f) => f.event === 'agent.session_created')", timeout=WAIT_MS, polling=100
        )
        session_id = (await created.json_value())["session_id"]
        message = {"event": "user.message", "session_id": session_id, "content": QUESTION}
        await page.evaluate("(frame) => websocket.send(JSON.stringify(frame))", message)

        charts = page.locator(".chart-container")
        await expect(charts).to_have_count(1, timeout=WAIT_MS)
        await expect(charts.locator("canvas")).to_have_count(1, timeout=WAIT_MS)
        await expect(charts.locator(".chart-info")).to_contain_text("SELECT region AS 地区", timeout=WAIT_MS)
        await expect(page.locator(".chart-error")).to_have_count(0)

        drawn: dict[str, Any] = await page.evaluate(
            """() => {
              const [stepId, chart] = [...visualizationHandler.charts.entries()][0];
              const option = chart.getOption();
              return {stepId, title: option.title[0].text, categories: option.xAxis[0].data,
                      series: option.series.map((s) => ({name: s.name, type: s.type, data: s.data}))};
            }"""
        )
        final = await page.wait_for_function(
            "window.__received.find((f) => f.event === 'agent.final_answer')", timeout=WAIT_MS, polling=100
        )
        assert "华东" in (await final.json_value())["content"]
        received = await page.evaluate("window.__received")
    finally:
        await context.close()
    call = next(f for f in received if f["event"] == "agent.tool_call" and f["metadata"]["tool"] == "data_visual")
    result = next(f for f in received if f["event"] == "agent.tool_result" and f["step_id"] == call["step_id"])
    assert drawn["stepId"] == call["step_id"] and call["metadata"]["status"] == "running"
    assert result["metadata"]["status"] == "success" and result["metadata"]["error"] is None
    rows = result["metadata"]["data"]
    assert drawn["title"] == call["metadata"]["args"]["title"] == "各地区销售额"
    assert drawn["categories"] == [row["地区"] for row in rows] and "华东" in drawn["categories"]
    assert drawn["series"] == [{"name": "销售额", "type": "bar", "data": [row["销售额"] for row in rows]}]
    assert sum(row["销售额"] for row in rows) == sales_total()
    assert not errors, errors


def sales_total() -> int:
    """The revenue of the example's CSV, summed here without SQL."""
    lines = (REPO / "examples" / "data" / "sales.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    column = header.index("revenue")
    return sum(int(line.split(",")[column]) for line in lines[1:] if line)


def test_the_page_keeps_the_guides_code() -> None:
    """What the browser runs is the guide's text: every block it takes is there verbatim."""
    page, script = guide_page("ws://localhost:1"), handler_script()
    for marker in ("handleToolCall(data)", "handleToolResult(data)", "createBarOption(params, data)"):
        assert marker in script
    assert "new VisualizationHandler(websocket)" in page and "ws://localhost:1" in page
    assert "cdn.jsdelivr.net" not in page and "./echarts.esm.min.js" in page

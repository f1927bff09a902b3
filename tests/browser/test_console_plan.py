"""The console's Plan & Solve view against examples/plan_solve_report.py (offline model, SQLite, ECharts).

Edit a plan in the confirmation dialog and watch its tasks complete; cancel a running task and
restart it after the pipeline finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from myagent.cli.loader import load_agent_factory
from myagent.llm.offline import OfflineModel
from tests.browser.conftest import REPO, open_console
from tests.harness import running_server

EXAMPLE = REPO / "examples" / "plan_solve_report.py"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(EXAMPLE).exists(), reason="examples/plan_solve_report.py is not there yet"),
]


def report_agents(**options: Any) -> Any:
    create_agent = load_agent_factory(EXAMPLE)
    return lambda: create_agent(**options)


async def test_edit_the_plan_and_watch_the_tasks_complete(browser: Browser) -> None:
    agents = report_agents(confirm_plan=True)
    async with running_server(agents) as server, open_console(browser, server, locale="zh-CN") as console:
        page = console.page
        await console.ask("写一份销售报告：地区和产品")
        dialog = page.locator("#confirm-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator("h2")).to_have_text("审阅计划")
        tasks = dialog.locator(".task-edit")
        await expect(tasks).to_have_count(2)
        await expect(tasks.nth(0).get_by_label("标题")).to_have_value("地区表现")
        await expect(tasks.nth(1).get_by_label("标题")).to_have_value("产品结构")
        panel = page.locator("#plan-panel")
        await expect(panel.locator(".badge-phase")).to_have_text("等待审阅")

        # Edit the first task, remove the second, add a third.
        await tasks.nth(0).get_by_label("标题").fill("各地区销售额对比")
        await tasks.nth(1).get_by_role("button", name="删除任务 2").click()
        await expect(tasks).to_have_count(1)
        await dialog.get_by_role("button", name="添加任务").click()
        await expect(tasks).to_have_count(2)
        await expect(tasks.nth(1).get_by_label("标题")).to_be_focused()
        await page.keyboard.type("月度趋势")
        await tasks.nth(1).get_by_label("目标").fill("展示每月销售额的变化趋势")
        await expect(dialog.locator(".task-editor-head .chip")).to_have_text("已修改")
        await dialog.get_by_role("button", name="执行计划").click()
        await expect(dialog).to_be_hidden()

        [response] = console.frames.sent_events("user.response")
        sent = response["content"]
        assert sent["confirmed"] is True
        assert [(t["id"], t["title"]) for t in sent["tasks"]] == [(1, "各地区销售额对比"), (3, "月度趋势")]
        assert sent["tasks"][1]["objective"] == "展示每月销售额的变化趋势"

        # The plan panel follows the tasks to the end.
        items = panel.locator(".plan-task")
        await expect(items).to_have_count(2)
        await expect(items.nth(0)).to_have_attribute("data-status", "completed")
        await expect(items.nth(1)).to_have_attribute("data-status", "completed")
        await expect(items.nth(0).locator(".task-title")).to_contain_text("各地区销售额对比")
        await expect(panel.locator(".badge-phase")).to_have_text("已完成")
        await expect(panel.locator(".progress-label")).to_have_text("已完成 2 / 2 个任务")
        await expect(panel.locator(".plan-aggregate")).to_contain_text("销售数据报告")
        await expect(panel.locator(".plan-aggregate")).to_contain_text("月度趋势")

        # The conversation: one group per task with its tool calls and chart, then the report.
        groups = page.locator(".task-group")
        await expect(groups).to_have_count(2)
        await expect(groups.nth(0).locator(".group-title")).to_have_text("任务 1 · 各地区销售额对比")
        await expect(groups.nth(0).locator(".chart canvas")).to_be_visible()
        await expect(groups.nth(1).locator(".chart canvas")).to_be_visible()
        await expect(page.locator(".stepline").first).to_contain_text("已规划 2 个任务")
        report = page.locator(".turn-agent .turn-body > .answer").last
        await expect(report.locator("h3").first).to_have_text("销售数据报告")
        await expect(report.locator("table").first).to_be_visible()
        await console.wait_idle()
        await page.locator("#transcript").evaluate("(el) => el.scrollTo(0, 0)")
        await console.screenshot("plan")


async def test_cancel_a_running_task_and_restart_it(browser: Browser) -> None:
    # A slow offline model (and one task at a time) leaves time to press Cancel while task 1 runs.
    agents = report_agents(llm=OfflineModel(agent_name="sales_report", delay=0.03), concurrency=1)
    async with running_server(agents) as server, open_console(browser, server) as console:
        page = console.page
        panel = page.locator("#plan-panel")
        await console.ask("Write a sales report: regions and monthly trend")
        items = panel.locator(".plan-task")
        await expect(items).to_have_count(2)
        first, second = items.nth(0), items.nth(1)
        await expect(first).to_have_attribute("data-status", "running")
        await expect(second).to_have_attribute("data-status", "pending")
        await first.get_by_role("button", name="Cancel task 1: Revenue by region").click()
        await expect(first).to_have_attribute("data-status", "cancelled")
        await expect(second).to_have_attribute("data-status", "completed")
        await expect(panel.locator(".badge-phase")).to_have_text("Done")
        await expect(panel.locator(".plan-aggregate")).to_contain_text("Sections not written: Revenue by region")
        await console.wait_idle()
        [cancel] = console.frames.sent_events("user.cancel_task")
        assert cancel["content"] == {"task_id": 1}
        notices = [
            f for f in console.frames.received_events("system.notice") if f["metadata"]["action"] == "cancel_task"
        ]
        assert notices and notices[0]["metadata"]["ok"] is True

        await first.get_by_role("button", name="Restart task 1: Revenue by region").click()
        await expect(first).to_have_attribute("data-status", "running")
        await expect(first).to_have_attribute("data-status", "completed")
        await console.wait_idle()
        await expect(panel.locator(".plan-aggregate")).not_to_contain_text("Sections not written")
        await expect(panel.locator(".plan-aggregate")).to_contain_text("Revenue by region")
        [restart] = console.frames.sent_events("user.restart_task")
        assert restart["content"] == {"task_id": 1}
        final = console.frames.received_events("agent.final_answer")
        assert len(final) == 2 and "Revenue by region" in final[-1]["content"]

"""The Plan & Solve example: read-only SQL over the bundled sales data, charts, keyword planning."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from myagent.llm.base import ModelRequest
from myagent.llm.testing import FunctionModel, Script, call
from tests.test_plan_solve import Recorder

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "plan_solve_report.py"
THREE = [{"id": 1, "title": "A"}, {"id": 2, "title": "B"}, {"id": 3, "title": "C"}]

# -- the example: read-only SQL and charts ---------------------------------------------------------


def load_example() -> ModuleType:
    if "plan_solve_report_example" in sys.modules:
        return sys.modules["plan_solve_report_example"]
    spec = importlib.util.spec_from_file_location("plan_solve_report_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["plan_solve_report_example"] = module
    spec.loader.exec_module(module)
    return module


def csv_sql(query: str) -> list[tuple[Any, ...]]:
    """``query`` over the CSV loaded independently of the example (an in-memory database)."""
    import csv

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE sales (month, region, product, units INTEGER, unit_price INTEGER, revenue INTEGER)")
    with (REPO / "examples" / "data" / "sales.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    db.executemany(
        "INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r["month"], r["region"], r["product"], int(r["units"]), int(r["unit_price"]), int(r["revenue"]))
            for r in rows
        ],
    )
    return db.execute(query).fetchall()


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM sales", "only SELECT"),
        ("SELECT 1; DROP TABLE sales", "exactly one statement"),
        ("PRAGMA table_info(sales)", "only SELECT"),
        ("ATTACH DATABASE 'other.db' AS other", "only SELECT"),
        ("UPDATE sales SET revenue = 0", "only SELECT"),
        ("DROP TABLE sales", "only SELECT"),
        ("INSERT INTO sales VALUES (1, 2, 3, 4, 5, 6)", "only SELECT"),
        ("WITH doomed AS (SELECT 1) DELETE FROM sales", "only reads"),
        ("SELECT * FROM pragma_table_info('sales')", "only reads"),
        ("  ; ", "empty"),
        ("SELECT * FROM nowhere", "no such table"),
        ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n", "too long"),
    ],
)
def test_run_sql_refuses_anything_but_one_read(query: str, why: str) -> None:
    example = load_example()
    tool = example.RunSql(example.DATABASE)
    result = tool.execute(query)
    assert result.error is not None and why in result.error
    assert tool.history == []
    assert [tuple(r) for r in example.DATABASE.query("SELECT COUNT(*) FROM sales").rows] == [(144,)]


def test_run_sql_reads_with_a_row_bound_and_a_read_only_connection() -> None:
    example = load_example()
    tool = example.RunSql(example.DATABASE)
    result = tool.execute("-- all of it\nSELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region;")
    assert result.error is None
    expected = csv_sql("SELECT region, SUM(revenue) FROM sales GROUP BY region")
    assert [tuple(r) for r in result.data["rows"]] == expected
    assert "| region | revenue |" in result.output
    big = tool.execute("SELECT a.month FROM sales a, sales b")
    assert big.data["truncated"] is True and len(big.data["rows"]) == example.MAX_ROWS
    assert tool.execute("SELECT ';' AS semicolon").data["rows"] == [[";"]]
    with (
        sqlite3.connect(f"{example.DATABASE.path.as_uri()}?mode=ro", uri=True) as db,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        db.execute("DELETE FROM sales")


def test_data_visual_returns_the_rows_the_visualization_guide_draws() -> None:
    example = load_example()
    tool = example.DataVisual(example.DATABASE)
    sql = "SELECT region, SUM(revenue) AS revenue, SUM(units) AS units FROM sales GROUP BY region ORDER BY region"
    bar = tool.execute(sql, "bar", "region", ["revenue"], "By region")
    expected = csv_sql("SELECT region, SUM(revenue), SUM(units) FROM sales GROUP BY region ORDER BY region")
    assert bar.data == [{"region": r, "revenue": v, "units": u} for r, v, u in expected]
    assert tool.charts[-1] == {
        "chart_type": "bar",
        "title": "By region",
        "sql": sql,
        "x_field": "region",
        "y_fields": ["revenue"],
    }
    both = tool.execute(sql, "line")  # default fields: the first column, then every numeric one
    assert tool.charts[-1]["x_field"] == "region" and tool.charts[-1]["y_fields"] == ["revenue", "units"]
    assert both.output == "line chart 'revenue, units by region' ready: 4 points"
    zh = example.DataVisual(example.DATABASE, zh=True)
    pie = zh.execute(
        "SELECT product AS 产品, SUM(revenue) AS 销售额 FROM sales GROUP BY product", "pie", "产品", ["销售额"]
    )
    assert {row["产品"] for row in pie.data} == {"笔记本电脑", "手机", "平板电脑"}  # values in the report's language
    assert "numeric" in (tool.execute("SELECT region, product FROM sales", "line").error or "")
    assert "no column 'profit'" in (tool.execute(sql, "bar", "region", ["profit"]).error or "")
    assert "only SELECT" in (tool.execute("DELETE FROM sales", "bar").error or "")
    assert len(tool.charts) == 2


def test_each_sections_chart_arguments_name_columns_in_the_reports_language() -> None:
    example = load_example()
    for section in example.SECTIONS.values():
        for zh in (False, True):
            args = section.chart_arguments(zh)
            rows = example.DataVisual(example.DATABASE, zh=zh).execute(**args).data
            assert rows and set(rows[0]) == {args["x_field"], *args["y_fields"]}, (section.key, zh)
    region = example.SECTIONS["region"].chart_arguments(True)
    assert (region["x_field"], region["y_fields"], region["chart_type"]) == ("地区", ["销售额"], "bar")


@pytest.mark.parametrize(
    ("question", "sections"),
    [
        ("写一份销售报告", ["overview", "region", "product", "trend"]),
        ("按地区和产品分析", ["region", "product"]),
        ("Show the monthly trend", ["trend"]),
        ("Give me an overview", ["overview"]),
    ],
)
def test_the_example_plans_sections_from_keywords(question: str, sections: list[str]) -> None:
    plan = load_example().keyword_plan(question)
    assert [t["section"] for t in plan] == sections and [t["id"] for t in plan] == list(range(1, len(plan) + 1))


def test_the_example_maps_a_generic_task_to_a_section() -> None:
    example = load_example()
    assert example.section_for({"id": 1, "title": "示例页", "objective": "展示销售概览"}).key == "overview"
    assert example.section_for({"id": 1, "title": "Anything"}).key == "overview"
    assert example.section_for({"id": 1, "title": "x", "section": "TREND"}).key == "trend"
    assert example.section_for({"id": 1, "title": "各区域对比"}).key == "region"


async def test_the_example_uses_the_model_when_one_is_configured() -> None:
    """A model stands in for a real endpoint: it plans in JSON and chooses the solver's queries."""
    example = load_example()
    query = "SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region ORDER BY revenue DESC"

    def reply(request: ModelRequest) -> Script:
        system = request.messages[0].content or ""
        if "You plan sales reports" in system:
            return '[{"id": 1, "title": "Regions", "objective": "compare regions", "section": "region"}]'
        results = [m for m in request.messages if m.role == "tool"]
        if not results:
            return call("run_sql", {"query": query})
        if len(results) == 1:
            args = {
                "sql": query,
                "chart_type": "bar",
                "x_field": "region",
                "y_fields": ["revenue"],
                "title": "By region",
            }
            return call("data_visual", args)
        return f"East leads. {(results[0].content or '').splitlines()[2]}"

    model = FunctionModel(reply)
    agent = example.create_agent(llm=model)
    rec = Recorder(agent.stream("Compare the regions"))
    await rec.done()
    output = rec.content("solver.completed", 1)["result"]["output"]
    east = csv_sql("SELECT SUM(revenue) FROM sales WHERE region = 'East'")[0][0]
    assert output["markdown"].startswith("East leads.") and str(east) in output["markdown"]
    assert output["charts"][0]["chart_type"] == "bar" and output["charts"][0]["y_fields"] == ["revenue"]
    assert output["queries"][0]["sql"] == query
    assert "Regions" in rec.final() and len(model.requests) == 4


async def test_the_example_falls_back_to_the_keyword_plan_when_the_model_plan_is_unusable() -> None:
    example = load_example()

    def reply(request: ModelRequest) -> Script:
        if "You plan sales reports" in (request.messages[0].content or ""):
            return "Sorry, no JSON today."
        return "Some text."

    agent = example.create_agent(llm=FunctionModel(reply))
    rec = Recorder(agent.stream("Show the monthly trend"))
    await rec.done()
    completed = rec.content("plan.completed")
    assert [t["section"] for t in completed["tasks"]] == ["trend"] and "unusable" in completed["plan_summary"]

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


def test_make_chart_returns_an_echarts_option() -> None:
    example = load_example()
    tool = example.MakeChart(example.DATABASE)
    bar = tool.execute("SELECT region, SUM(revenue) AS revenue, SUM(units) AS units FROM sales GROUP BY region", "bar")
    option = bar.data["option"]
    assert bar.data["type"] == "echarts" and bar.data["chart_type"] == "bar"
    assert option["xAxis"]["data"] == [r[0] for r in csv_sql("SELECT region FROM sales GROUP BY region")]
    assert [s["name"] for s in option["series"]] == ["revenue", "units"]
    assert {s["type"] for s in option["series"]} == {"bar"}
    pie = tool.execute("SELECT product, SUM(revenue) AS revenue FROM sales GROUP BY product", "pie", "Share")
    assert pie.data["option"]["series"][0]["type"] == "pie" and pie.data["title"] == "Share"
    assert {d["name"] for d in pie.data["option"]["series"][0]["data"]} == {"Laptop", "Phone", "Tablet"}
    assert "numeric" in tool.execute("SELECT region, product FROM sales", "line").error
    assert "only SELECT" in tool.execute("DELETE FROM sales", "bar").error
    assert len(tool.charts) == 2


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
            return call("make_chart", {"query": query, "chart_type": "bar", "title": "By region"})
        return f"East leads. {(results[0].content or '').splitlines()[2]}"

    model = FunctionModel(reply)
    agent = example.create_agent(llm=model)
    rec = Recorder(agent.stream("Compare the regions"))
    await rec.done()
    output = rec.content("solver.completed", 1)["result"]["output"]
    east = csv_sql("SELECT SUM(revenue) FROM sales WHERE region = 'East'")[0][0]
    assert output["markdown"].startswith("East leads.") and str(east) in output["markdown"]
    assert output["charts"][0]["option"]["series"][0]["type"] == "bar"
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

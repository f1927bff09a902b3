"""Plan & Solve example: a sales report written from a CSV through SQLite.

Serve it with::

    python -m myagent.cli.server server examples/plan_solve_report.py --port 8080

then ask, for example, "写一份销售报告：地区和趋势" or "Write a sales report" (``user.message``), or send
tasks yourself with ``user.solve_tasks`` (``{"id": 1, "title": "示例页", "objective": "展示销售概览"}``).

How it works:

* ``examples/data/sales.csv`` (144 rows: month x region x product, with units and revenue) is loaded
  once per process into a SQLite file in a private temporary directory (removed at exit). Every
  query opens that file read-only (``file:...?mode=ro``).
* The **planner** splits the question into report sections: overview, by region, by product, trend.
* Each **solver** writes one section with two tools: ``run_sql`` (one read-only SELECT/WITH statement,
  at most 200 rows) and ``data_visual``, the chart tool of the visualization guide
  (``docs/protocol.md``): its arguments ``sql``, ``chart_type``, ``x_field``, ``y_fields`` and ``title``
  reach the client in ``agent.tool_call`` ``metadata.args``, and the query's rows (objects keyed by
  column) in ``agent.tool_result`` ``metadata.data``, so the guide's chart snippet draws them.
* The **aggregator** assembles the Markdown report: sections in task order, a note on sections that
  were cancelled or failed.

With a model endpoint configured (``OPENAI_API_KEY``/``OPENAI_BASE_URL``) the planner asks the model for
a JSON task list and each solver lets the model choose its queries and write the section. With no
endpoint the built-in offline model is used and everything is deterministic: the plan comes from
keywords in the question (all four sections when none matches), each solver hands the offline model
its SQL in double quotes and its chart as a JSON object of arguments (so the model calls ``run_sql``,
then ``data_visual``, visibly, with those arguments) and writes the section from the rows the tools
returned. A Chinese report names the chart's columns in Chinese (``SELECT region AS 地区 ...``).
"""

from __future__ import annotations

import atexit
import csv
import json
import logging
import re
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.agent.factory import resolve_model
from myagent.llm.base import Model
from myagent.llm.offline import OfflineModel
from myagent.plan_solve import (
    PlanAgent,
    PlanContext,
    PlanSolveAgent,
    SolverAgent,
    SolverRunResult,
    SubAgentRun,
    TaskCoercionError,
    create_plan_solver,
    task_id,
    task_to_dict,
)
from myagent.tool import BaseTool, ToolResult

logger = logging.getLogger(__name__)

DATA_CSV = Path(__file__).resolve().parent / "data" / "sales.csv"
MAX_ROWS = 200  # rows one query may return
MAX_STEPS = 50_000  # x 1000 SQLite VM instructions (well under a second): a runaway query is stopped
ChartType = Literal["bar", "line", "pie"]

#: Chinese names of the table's columns, of its values (the CSV is in English) and of the chart types:
#: a report in Chinese shows no English word.
ZH_NAMES = {
    "month": "月份", "region": "地区", "product": "产品", "units": "销量", "unit_price": "单价",
    "revenue": "销售额", "quarter": "季度", "months": "月数", "regions": "地区数", "products": "产品数",
    "first_month": "起始月份", "last_month": "结束月份",
    "East": "华东", "South": "华南", "North": "华北", "West": "华西",
    "Laptop": "笔记本电脑", "Phone": "手机", "Tablet": "平板电脑", "bar": "柱状图", "line": "折线图", "pie": "饼图",
}  # fmt: skip


def zh_name(value: Any, zh: bool) -> Any:
    """``value`` in Chinese when ``zh`` and a Chinese name is known, else unchanged."""
    return ZH_NAMES.get(value, value) if zh and isinstance(value, str) else value


# -- the database ----------------------------------------------------------------------------------


class SqlRefused(ValueError):
    """A query the read-only SQL tools will not run (the message says why)."""


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"sql": self.sql, "columns": self.columns, "rows": self.rows, "truncated": self.truncated}

    def markdown(self, zh: bool = False) -> str:
        lines = ["| " + " | ".join(zh_name(c, zh) for c in self.columns) + " |", "|" + " --- |" * len(self.columns)]
        lines += ["| " + " | ".join(_cell(zh_name(value, zh)) for value in row) + " |" for row in self.rows]
        if self.truncated:
            shown = len(self.rows)
            lines.append(f"（仅显示前 {shown} 行）" if zh else f"(only the first {shown} rows are shown)")
        return "\n".join(lines)


_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _authorize(action: int, *_: Any) -> int:
    """Second line of defence behind ``mode=ro``: reading only (no PRAGMA, ATTACH, writes, DDL)."""
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


class SalesDatabase:
    """``sales.csv`` as the table ``sales`` of a SQLite file created on first use, queried read-only."""

    def __init__(self, csv_path: Path = DATA_CSV) -> None:
        self.csv_path = csv_path
        self._path: Path | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        with self._lock:
            if self._path is None or not self._path.exists():  # first use, or a cleaner emptied /tmp
                self._path = self._build()
            return self._path

    def _build(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="myagent-sales-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = directory / "sales.db"
        with self.csv_path.open(encoding="utf-8", newline="") as source:
            rows = [
                (r["month"], r["region"], r["product"], int(r["units"]), int(r["unit_price"]), int(r["revenue"]))
                for r in csv.DictReader(source)
            ]
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE sales (month TEXT NOT NULL, region TEXT NOT NULL, product TEXT NOT NULL, "
                "units INTEGER NOT NULL, unit_price INTEGER NOT NULL, revenue INTEGER NOT NULL)"
            )
            db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.close()
        return path

    def query(self, sql: str) -> QueryResult:
        """Run one read-only statement.

        Raises:
            SqlRefused: not a single SELECT/WITH statement, or SQLite refused or failed to run it.
        """
        statement = check_select(sql)
        uri = f"{self.path.as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        steps = 0

        def progress() -> int:
            nonlocal steps
            steps += 1
            return 1 if steps > MAX_STEPS else 0

        try:
            connection.set_authorizer(_authorize)
            connection.set_progress_handler(progress, 1000)
            cursor = connection.execute(statement)
            fetched = cursor.fetchmany(MAX_ROWS + 1)
            columns = [column[0] for column in cursor.description or ()]
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "not authorized" in message:
                raise SqlRefused("refused: this tool only reads the sales table (no writes, PRAGMA or ATTACH)") from exc
            if "interrupted" in message:
                raise SqlRefused("refused: the query ran too long and was stopped") from exc
            raise SqlRefused(f"SQLite error: {message}") from exc
        finally:
            connection.close()
        rows = [list(row) for row in fetched[:MAX_ROWS]]
        return QueryResult(statement, columns, rows, truncated=len(fetched) > MAX_ROWS)


def check_select(sql: str) -> str:
    """``sql`` as one SELECT/WITH statement (a trailing ``;`` removed).

    Raises:
        SqlRefused: empty, several statements, or another kind of statement.
    """
    statements = [s for s in _statements(sql) if _code(s).strip()]
    if not statements:
        raise SqlRefused("refused: the query is empty; send one SELECT statement")
    if len(statements) > 1:
        raise SqlRefused("refused: send exactly one statement (no ';' between statements)")
    words = _code(statements[0]).split()
    keyword = words[0].lower() if words else ""
    if keyword not in ("select", "with"):
        raise SqlRefused(f"refused: only SELECT (or WITH ... SELECT) queries are allowed, not {keyword.upper()}")
    return statements[0].strip()


_TOKEN = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\[[^\]]*\]?|--[^\n]*|/\*.*?(?:\*/|$)|;", re.S)


def _statements(sql: str) -> list[str]:
    """Split at the ``;`` that are not inside quotes, brackets or comments."""
    parts, start = [], 0
    for match in _TOKEN.finditer(sql):
        if match.group() == ";":
            parts.append(sql[start : match.start()])
            start = match.end()
    parts.append(sql[start:])
    return parts


def _code(statement: str) -> str:
    """The statement with its comments blanked out (to find its first keyword)."""
    return _TOKEN.sub(lambda m: " " if m.group().startswith(("--", "/*")) else m.group(), statement)


DATABASE = SalesDatabase()

# -- the tools -------------------------------------------------------------------------------------


class RunSql(BaseTool):
    name = "run_sql"
    description = (
        "Run SQL: one read-only SELECT (or WITH) statement on the sales table "
        "(month TEXT like 2024-01, region, product, units, unit_price, revenue); returns at most 200 rows."
    )

    def __init__(self, database: SalesDatabase, zh: bool = False) -> None:
        self.database = database
        self.zh = zh  # the report's language: column names and values in Chinese
        self.history: list[QueryResult] = []  # what this tool returned, for the solver

    def execute(self, query: str) -> ToolResult:
        """Run the query.

        Args:
            query: a single SELECT statement, e.g. SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region
        """
        try:
            result = self.database.query(query)
        except SqlRefused as exc:
            return ToolResult(error=str(exc))
        self.history.append(result)
        return ToolResult(output=result.markdown(self.zh), data=result.to_dict())


class DataVisual(BaseTool):
    """The chart tool of the visualization guide (``data_visual``): its arguments and rows are what the
    guide's clients read, ``metadata.args`` on ``agent.tool_call`` and ``metadata.data`` on the result."""

    name = "data_visual"
    description = (
        "Make a chart (bar, line or pie) for the report from the rows of a SELECT query: x_field names the "
        "label column, y_fields the numeric columns to draw."
    )

    def __init__(self, database: SalesDatabase, default_title: str = "", zh: bool = False) -> None:
        self.database = database
        self.default_title = default_title  # used when the model gives no title
        self.zh = zh  # the report's language: label values in Chinese
        self.charts: list[dict[str, Any]] = []  # what this tool returned, for the solver

    def execute(
        self, sql: str, chart_type: ChartType, x_field: str = "", y_fields: list[str] | None = None, title: str = ""
    ) -> ToolResult:
        """Draw the query's rows.

        Args:
            sql: a single SELECT statement, e.g. SELECT month, SUM(revenue) AS revenue FROM sales GROUP BY month
            chart_type: bar, line or pie
            x_field: the column with the labels (default: the first column)
            y_fields: the numeric columns to draw (default: every numeric column after the labels)
            title: chart title
        """
        try:
            result = self.database.query(sql)
            x_field, y_fields = chart_fields(result, x_field, y_fields)
        except SqlRefused as exc:
            return ToolResult(error=str(exc))
        title = title or self.default_title or self._title(x_field, y_fields)
        rows = [
            {column: zh_name(value, self.zh) for column, value in zip(result.columns, row, strict=True)}
            for row in result.rows
        ]
        self.charts.append(
            {"chart_type": chart_type, "title": title, "sql": result.sql, "x_field": x_field, "y_fields": y_fields}
        )
        if self.zh:
            return ToolResult(output=f"{zh_name(chart_type, True)}「{title}」已生成：{len(rows)} 个数据点", data=rows)
        return ToolResult(output=f"{chart_type} chart {title!r} ready: {len(rows)} points", data=rows)

    def _title(self, x_field: str, y_fields: list[str]) -> str:
        if self.zh:
            return f"{'、'.join(zh_name(c, True) for c in y_fields)}（按{zh_name(x_field, True)}）"
        return f"{', '.join(y_fields)} by {x_field}"


def chart_fields(result: QueryResult, x_field: str, y_fields: list[str] | None) -> tuple[str, list[str]]:
    """The label column and the numeric columns of a chart of ``result`` (given ones checked).

    Raises:
        SqlRefused: no rows, an unknown column, or no numeric column to draw.
    """
    if len(result.columns) < 2 or not result.rows:
        raise SqlRefused("a chart needs rows with a label column followed by at least one numeric column")
    x_field = x_field or result.columns[0]
    numeric = [
        column
        for index, column in enumerate(result.columns)
        if column != x_field
        and all(isinstance(row[index], int | float) and not isinstance(row[index], bool) for row in result.rows)
    ]
    wanted = list(y_fields or numeric)
    unknown = [c for c in [x_field, *wanted] if c not in result.columns]
    if unknown:
        raise SqlRefused(f"no column {unknown[0]!r} in the query's result (columns: {', '.join(result.columns)})")
    if not wanted or any(c not in numeric for c in wanted):
        raise SqlRefused("a chart needs at least one numeric column after the label column")
    return x_field, wanted


# -- report sections -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A kind of report section. Its SQL holds no quotes, so the offline model can pass it along."""

    key: str
    title: tuple[str, str]  # (zh, en)
    objective: tuple[str, str]
    keywords: tuple[str, ...]
    sql: str
    chart_sql: str  # {column} placeholders: the result's column names, in the report's language
    chart: ChartType
    chart_title: tuple[str, str]

    def chart_arguments(self, zh: bool) -> dict[str, Any]:
        """``data_visual``'s arguments for this section's chart, with columns named in the report's language."""
        columns = re.findall(r"\{(\w+)\}", self.chart_sql)
        names = {column: zh_name(column, zh) for column in columns}
        return {
            "sql": self.chart_sql.format(**names),
            "chart_type": self.chart,
            "x_field": names[columns[0]],
            "y_fields": [names[c] for c in columns[1:]],
            "title": self.chart_title[0 if zh else 1],
        }


SECTIONS: dict[str, Section] = {
    s.key: s
    for s in (
        Section(
            "overview",
            ("销售概览", "Sales overview"),
            ("总结全年的销售额、销量与覆盖范围", "Summarise the year's revenue, units and coverage"),
            ("概览", "总览", "总体", "整体", "汇总", "overview", "summary", "total"),
            "SELECT SUM(revenue) AS revenue, SUM(units) AS units, COUNT(DISTINCT month) AS months, "
            "COUNT(DISTINCT region) AS regions, COUNT(DISTINCT product) AS products, "
            "MIN(month) AS first_month, MAX(month) AS last_month FROM sales",
            "SELECT (CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3 AS {quarter}, SUM(revenue) AS {revenue} "
            "FROM sales GROUP BY 1 ORDER BY 1",
            "bar",
            ("各季度销售额", "Revenue by quarter"),
        ),
        Section(
            "region",
            ("地区表现", "Revenue by region"),
            ("比较各地区的销售额与销量", "Compare revenue and units across regions"),
            ("地区", "区域", "大区", "region", "regional", "area"),
            "SELECT region, SUM(revenue) AS revenue, SUM(units) AS units FROM sales "
            "GROUP BY region ORDER BY revenue DESC",
            "SELECT region AS {region}, SUM(revenue) AS {revenue} FROM sales GROUP BY region ORDER BY 2 DESC",
            "bar",
            ("各地区销售额", "Revenue by region"),
        ),
        Section(
            "product",
            ("产品结构", "Revenue by product"),
            ("比较各产品的销售额与销量", "Compare revenue and units across products"),
            ("产品", "品类", "商品", "product", "category"),
            "SELECT product, SUM(revenue) AS revenue, SUM(units) AS units FROM sales "
            "GROUP BY product ORDER BY revenue DESC",
            "SELECT product AS {product}, SUM(revenue) AS {revenue} FROM sales GROUP BY product ORDER BY 2 DESC",
            "pie",
            ("各产品销售额占比", "Revenue share by product"),
        ),
        Section(
            "trend",
            ("月度趋势", "Monthly trend"),
            ("展示每月销售额的变化", "Show how monthly revenue changed"),
            ("趋势", "月度", "每月", "走势", "增长", "trend", "monthly", "month", "growth"),
            "SELECT month, SUM(revenue) AS revenue, SUM(units) AS units FROM sales GROUP BY month ORDER BY month",
            "SELECT month AS {month}, SUM(revenue) AS {revenue} FROM sales GROUP BY month ORDER BY month",
            "line",
            ("月度销售额", "Monthly revenue"),
        ),
    )
}

_CJK = re.compile(r"[\u3400-\u9fff]")


def is_chinese(*texts: str) -> bool:
    return any(_CJK.search(text or "") for text in texts)


def mentioned_sections(text: str) -> list[Section]:
    lowered = text.lower()
    return [s for s in SECTIONS.values() if any(word in lowered for word in s.keywords)]


def section_for(task: Any) -> Section:
    """The task's section: its ``section`` field, else keywords in its title/objective, else the overview."""
    data = task_to_dict(task)
    named = SECTIONS.get(str(data.get("section", "")).lower())
    if named is not None:
        return named
    found = mentioned_sections(f"{data.get('title', '')} {data.get('objective', '')}")
    return found[0] if found else SECTIONS["overview"]


def keyword_plan(question: str) -> list[dict[str, Any]]:
    """The deterministic plan: the sections the question mentions (all four when it names none)."""
    zh = 0 if is_chinese(question) else 1
    sections = mentioned_sections(question) or list(SECTIONS.values())
    return [
        {"id": index, "title": s.title[zh], "objective": s.objective[zh], "section": s.key}
        for index, s in enumerate(sections, start=1)
    ]


# -- planner, solver, aggregator -------------------------------------------------------------------

PLANNER_PROMPT = (
    "You plan sales reports. The data is one SQLite table `sales` (month TEXT like 2024-01, region, product, "
    "units, unit_price, revenue), 2024, four regions, three products. Answer ONLY with a JSON array of 1-6 report "
    'sections, each {"id": <1, 2, ...>, "title": "...", "objective": "...", "section": "overview" | "region" | '
    '"product" | "trend"}. Write titles and objectives in the language of the question.'
)

SOLVER_PROMPT = (
    "You write one section of a sales report from a SQLite table `sales` (month TEXT like 2024-01, region, "
    "product, units, unit_price, revenue). Use run_sql to get the numbers (one SELECT at a time), call "
    "data_visual once with the query that fits the section best (x_field: its label column, y_fields: the "
    "numeric columns to draw; name columns in the language of the task), then answer with the section body in Markdown "
    "(no heading): short paragraphs or a table, using only numbers returned by your queries. Answer in the "
    "language of the task."
)


class ReportPlanner(PlanAgent):
    """Splits a question into report sections: keywords offline, the model otherwise."""

    name = "report_planner"

    def __init__(self, model: Model) -> None:
        self.model = model

    def build_agent(self, question: str) -> ToolCallAgent:
        return create_toolcall_agent(name=self.name, llm=self.model, system_prompt=PLANNER_PROMPT, max_steps=2)

    def plan_prompt(self, question: str) -> str:
        return f"Question: {question}\n\nPlan the report sections as a JSON array."

    async def plan(self, question: str, run: SubAgentRun) -> tuple[list[Any], str]:
        if isinstance(self.model, OfflineModel):
            tasks = keyword_plan(question)
            if is_chinese(question):
                titles = "、".join(str(t["title"]) for t in tasks)
                return tasks, f"{len(tasks)} 个章节：{titles}（按关键词规划，离线模型）"
            return tasks, self.summarize(tasks, "") + " (keyword plan, offline model)"
        try:
            return await super().plan(question, run)
        except TaskCoercionError as exc:  # the model's answer was unusable: say so, keep going
            logger.warning("report planner: %s; using the keyword plan", exc)
            tasks = keyword_plan(question)
            return tasks, self.summarize(tasks, "") + f" (keyword plan: the model's plan was unusable: {exc})"


class ReportSolver(SolverAgent):
    """Writes one section: the offline model runs the section's SQL and chart; a real model picks its own."""

    name = "report_solver"

    def __init__(self, model: Model, database: SalesDatabase = DATABASE) -> None:
        self.model = model
        self.database = database

    def section_agent(
        self, task: Any, chart_title: str = "", zh: bool = False
    ) -> tuple[ToolCallAgent, RunSql, DataVisual]:
        sql, chart = RunSql(self.database, zh), DataVisual(self.database, chart_title, zh)
        agent = create_toolcall_agent(
            name=f"section_solver_{task_id(task)}",
            llm=self.model,
            tools=[sql, chart],
            system_prompt=SOLVER_PROMPT,
            max_steps=8,
        )
        return agent, sql, chart

    def build_agent(self, task: Any, context: PlanContext) -> ToolCallAgent:
        return self.section_agent(task, zh=_task_in_chinese(task, context))[0]

    def task_prompt(self, task: Any, context: PlanContext) -> str:
        section = section_for(task)
        data = task_to_dict(task)
        return (
            f"Report question: {context.question or '(none)'}\n"
            f"Section: {data.get('title') or section.title[1]}\n"
            f"Objective: {data.get('objective') or section.objective[1]}\n"
            f"A query that may help: {section.sql}\n"
            f"A chart that may fit (data_visual arguments): {json.dumps(section.chart_arguments(False))}"
        )

    async def solve(self, task: Any, context: PlanContext, run: SubAgentRun) -> dict[str, Any]:
        section = section_for(task)
        data = task_to_dict(task)
        zh = _task_in_chinese(task, context)
        agent, sql, chart = self.section_agent(task, section.chart_title[0 if zh else 1], zh)
        if isinstance(self.model, OfflineModel):
            # The offline model calls the tool whose words match and passes the quoted text as its argument,
            # or the tool a JSON object of arguments fits, with those arguments.
            chart_args = section.chart_arguments(zh)
            if zh:
                asks = (
                    f'运行 SQL 语句："{section.sql}"',
                    f"为报告画一张{zh_name(section.chart, True)}：{json.dumps(chart_args, ensure_ascii=False)}",
                )
            else:
                asks = (
                    f'Run SQL: "{section.sql}"',
                    f"Make a {section.chart} chart for the report: {json.dumps(chart_args)}",
                )
            for ask in asks:
                await run.ask(agent, ask)
            if not sql.history:
                raise RuntimeError(f"the query of section {section.key!r} did not run")
            body = render_section(section, sql.history[0], zh)
        else:
            body = (await run.ask(agent, self.task_prompt(task, context))).strip()
        return {
            "id": task_id(task),
            "title": data.get("title") or section.title[0 if zh else 1],
            "section": section.key,
            "markdown": body,
            "queries": [q.to_dict() for q in sql.history],
            "charts": chart.charts,
        }

    def summarize(self, task: Any, output: Any) -> str:
        charts = len(output.get("charts", [])) if isinstance(output, dict) else 0
        title = str(output.get("title", "")) if isinstance(output, dict) else ""
        if is_chinese(title):
            return f"第 {task_id(task)} 节（{title}）已完成，{charts} 张图表"
        return f"Section {task_id(task)} ({section_for(task).key}) ready, {charts} chart(s)"


def _task_in_chinese(task: Any, context: PlanContext) -> bool:
    """The report follows the language of the conversation: the question, else the task's own words."""
    data = task_to_dict(task)
    return is_chinese(context.question, str(data.get("title", "")), str(data.get("objective", "")))


def render_section(section: Section, result: QueryResult, zh: bool) -> str:
    """The section body written from the query's rows (offline model)."""
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    if section.key == "overview":
        r = rows[0]
        if zh:
            return (
                f"- 时间范围：{r['first_month']} 至 {r['last_month']}（{r['months']} 个月）\n"
                f"- 总销售额：{_money(r['revenue'])}\n- 总销量：{_num(r['units'])} 件\n"
                f"- 覆盖 {r['regions']} 个地区、{r['products']} 类产品"
            )
        return (
            f"- Period: {r['first_month']} to {r['last_month']} ({r['months']} months)\n"
            f"- Total revenue: {_money(r['revenue'])}\n- Units sold: {_num(r['units'])}\n"
            f"- {r['regions']} regions, {r['products']} products"
        )
    if section.key in ("region", "product"):
        key = section.key
        total = sum(r["revenue"] for r in rows) or 1
        header = (
            f"| {'地区' if key == 'region' else '产品'} | 销售额 | 销量 | 占比 |"
            if zh
            else f"| {key.title()} | Revenue | Units | Share |"
        )
        lines = [header, "| --- | ---: | ---: | ---: |"]
        lines += [
            f"| {zh_name(r[key], zh)} | {_money(r['revenue'])} | {_num(r['units'])} | {r['revenue'] / total:.1%} |"
            for r in rows
        ]
        top = rows[0]
        share = f"{top['revenue'] / total:.1%}"
        lead = (
            f"\n\n{zh_name(top[key], zh)} 销售额最高（{_money(top['revenue'])}，占 {share}）。"
            if zh
            else f"\n\n{top[key]} leads with {_money(top['revenue'])} ({share} of revenue)."
        )
        return "\n".join(lines) + lead
    # trend
    first, last = rows[0], rows[-1]
    best = max(rows, key=lambda r: r["revenue"])
    change = (last["revenue"] - first["revenue"]) / (first["revenue"] or 1)
    lines = ["| 月份 | 销售额 | 销量 |" if zh else "| Month | Revenue | Units |", "| --- | ---: | ---: |"]
    lines += [f"| {r['month']} | {_money(r['revenue'])} | {_num(r['units'])} |" for r in rows]
    if zh:
        note = (
            f"\n\n{first['month']} 到 {last['month']} 月销售额变化 {change:+.1%}；"
            f"最高为 {best['month']}（{_money(best['revenue'])}）。"
        )
    else:
        note = (
            f"\n\nMonthly revenue changed {change:+.1%} from {first['month']} to {last['month']}; "
            f"the best month was {best['month']} ({_money(best['revenue'])})."
        )
    return "\n".join(lines) + note


def build_report(context: PlanContext, results: list[SolverRunResult]) -> str:
    """The aggregator: the Markdown report, sections in task order."""
    zh = is_chinese(context.question, *(str(task_to_dict(r.task).get("title", "")) for r in results))
    lines = ["# 销售数据报告" if zh else "# Sales report"]
    if context.question:
        lines.append(f"> 问题：{context.question}" if zh else f"> Question: {context.question}")
    skipped: list[str] = []
    for number, result in enumerate(results, start=1):
        title = str(task_to_dict(result.task).get("title") or result.task_id)
        lines.append(f"## {number}. {title}")
        if result.status == "completed" and isinstance(result.output, dict):
            lines.append(str(result.output.get("markdown", "")))
            for drawn in result.output.get("charts", []):
                kind = drawn["chart_type"]
                if zh:
                    lines.append(f"*图表：{drawn['title']}（{zh_name(kind, True)}）*")
                else:
                    lines.append(f"*Chart: {drawn['title']} ({kind})*")
        elif result.status == "completed":
            lines.append(str(result.output))
        else:
            skipped.append(f"{title} ({result.status})")
            why = f"：{result.error}" if zh and result.error else f": {result.error}" if result.error else ""
            lines.append(
                f"*本节未完成（{_STATUS_ZH.get(result.status, result.status)}）{why}*"
                if zh
                else f"*This section was not written ({result.status}){why}*"
            )
    if skipped:
        note = "未完成的章节：" if zh else "Sections not written: "
        lines.append(f"---\n{note}{', '.join(skipped)}")
    return "\n\n".join(lines)


_STATUS_ZH = {"cancelled": "已取消", "failed": "失败", "pending": "未开始", "running": "未完成"}


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _money(value: Any) -> str:
    return f"¥{value:,}" if isinstance(value, int) else str(value)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def create_agent(
    *, llm: Model | None = None, confirm_plan: bool = False, concurrency: int | None = 2
) -> PlanSolveAgent:
    """A fresh Plan & Solve agent for each session.

    Args:
        llm: the model of the planner and the solvers (default: the configured endpoint, else offline).
        confirm_plan: ask the user to confirm (or edit) the plan before solving.
        concurrency: sections written at once.
    """
    model = llm or resolve_model(None, agent_name="sales_report", agent_description="销售数据报告")
    return create_plan_solver(
        planner=ReportPlanner(model),
        solver=ReportSolver(model),
        aggregator=build_report,
        concurrency=concurrency,
        confirm_plan=confirm_plan,
        name="sales_report",
        description="销售数据报告：规划章节、查询 SQLite、生成图表与 Markdown 报告",
    )

// An ECharts option from a tool result, as the visualization guide describes: the rows in
// `metadata.data` plus chart_type / x_field / y_fields / title in the call's arguments (data_visual of
// examples/plan_solve_report.py), or an ECharts option (an object with `series`) in `metadata.data`.
import type { EChartsCoreOption } from "echarts/core";

type Row = Record<string, unknown>;

const isObject = (value: unknown): value is Row => typeof value === "object" && value !== null && !Array.isArray(value);

export interface ChartSpec {
  option: EChartsCoreOption;
  title: string;
  points: number;
}

export function chartSpec(data: unknown, args: unknown): ChartSpec | null {
  if (isObject(data) && (Array.isArray(data.series) || isObject(data.series))) {
    const title = isObject(data.title) && typeof data.title.text === "string" ? data.title.text : "";
    return { option: data, title, points: Array.isArray(data.series) ? data.series.length : 1 };
  }
  if (!Array.isArray(data) || !isObject(args) || typeof args.chart_type !== "string") return null;
  const rows = data.filter(isObject);
  const first = rows[0];
  if (first === undefined) return null;
  const x = typeof args.x_field === "string" && args.x_field !== "" ? args.x_field : Object.keys(first)[0]!;
  let ys = Array.isArray(args.y_fields) ? args.y_fields.map(String) : [];
  if (ys.length === 0) ys = Object.keys(first).filter((key) => key !== x && typeof first[key] === "number");
  const title = typeof args.title === "string" ? args.title : "";
  const type = args.chart_type.toLowerCase();
  if (type === "pie") {
    const series = [{ type: "pie", radius: ["35%", "65%"], name: ys[0], data: rows.map((r) => ({ name: String(r[x]), value: r[ys[0]!] })) }];
    return { option: { tooltip: { trigger: "item" }, legend: { bottom: 0 }, series }, title, points: rows.length };
  }
  const kind = type === "line" ? "line" : "bar";
  return {
    title,
    points: rows.length,
    option: {
      tooltip: { trigger: "axis" },
      legend: ys.length > 1 ? { bottom: 0 } : undefined,
      grid: { left: 12, right: 20, top: 24, bottom: ys.length > 1 ? 40 : 12, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => r[x]) },
      yAxis: { type: "value" },
      series: ys.map((field) => ({ type: kind, name: field, smooth: kind === "line", data: rows.map((r) => r[field]) })),
    },
  };
}

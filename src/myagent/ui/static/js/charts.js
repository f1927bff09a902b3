// Charts from tool results: an ECharts option (an object with `series`) in `metadata.data`, or a
// chart payload as in the visualization guide: rows in `data` plus chart_type / x_field / y_fields
// (in the tool call's arguments or next to the rows). ECharts is loaded only when a chart appears.

import { isPlainObject } from "./dom.js";

const PALETTE = ["#3b63d8", "#14a38b", "#f08c2e", "#8c5bd6", "#e0527a", "#4aa3df", "#9aa83a", "#7a8699"];
const FONT = 'system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif';

let loading = null;

function loadECharts() {
  loading ??= import("../vendor/echarts/echarts.esm.min.js").then((echarts) => {
    echarts.registerTheme("myagent", {
      color: PALETTE,
      backgroundColor: "transparent",
      textStyle: { fontFamily: FONT, color: "#3d4452" },
      title: { textStyle: { fontSize: 14, fontWeight: 600, color: "#1d2330" }, left: "center" },
      legend: { textStyle: { color: "#545d6e" } },
      categoryAxis: { axisLine: { lineStyle: { color: "#c9cfd9" } }, axisLabel: { color: "#5b6475" } },
      valueAxis: { splitLine: { lineStyle: { color: "#eceff4" } }, axisLabel: { color: "#5b6475" } },
    });
    return echarts;
  });
  return loading;
}

/** The ECharts option for a tool result, or null when it holds no chart. */
export function chartOption(data, toolArgs) {
  if (!data) return null;
  if (isPlainObject(data)) {
    for (const key of ["option", "echarts", "chart"]) {
      if (isPlainObject(data[key]) && hasSeries(data[key])) return finish(structuredClone(data[key]));
    }
    if (hasSeries(data)) return finish(structuredClone(data));
    const rows = Array.isArray(data.data) ? data.data : Array.isArray(data.rows) ? data.rows : null;
    if (rows && (data.chart_type || data.type)) return fromRows(rows, { ...data, chart_type: data.chart_type || data.type });
    return null;
  }
  if (Array.isArray(data) && isPlainObject(toolArgs) && toolArgs.chart_type) return fromRows(data, toolArgs);
  return null;
}

function hasSeries(value) {
  return Array.isArray(value.series) ? value.series.length > 0 : isPlainObject(value.series);
}

/** Sensible defaults the option may leave out (tooltip, room for labels); a single title moves to the caption. */
function finish(option) {
  option.tooltip ??= { trigger: option.xAxis || option.yAxis ? "axis" : "item" };
  if (isPlainObject(option.title) && option.title.text && !option.title.subtext && option.title.show !== true) {
    option.title = { ...option.title, show: false }; // the card's caption shows it
  }
  if ((option.xAxis || option.yAxis) && !option.grid) {
    const xName = isPlainObject(option.xAxis) && typeof option.xAxis.name === "string" ? option.xAxis.name : "";
    const titled = isPlainObject(option.title) && option.title.show !== false;
    option.grid = {
      left: 12,
      right: xName ? Math.min(120, 20 + 7 * xName.length) : 20,
      top: titled ? 48 : 28,
      bottom: option.legend ? 40 : 12,
      containLabel: true,
    };
  }
  if (option.legend && isPlainObject(option.legend) && option.legend.top === undefined && option.legend.bottom === undefined) {
    option.legend.bottom = 0;
  }
  if (window.matchMedia?.("(prefers-reduced-motion: reduce)").matches) option.animation = false;
  return option;
}

function fromRows(rows, params) {
  const objects = rows.filter(isPlainObject);
  if (!objects.length) return null;
  const type = String(params.chart_type).toLowerCase();
  const keys = Object.keys(objects[0]);
  const x = params.x_field || keys[0];
  let ys = params.y_fields ?? params.y_field;
  if (typeof ys === "string") ys = [ys];
  if (!Array.isArray(ys) || !ys.length) ys = keys.filter((key) => key !== x && typeof objects[0][key] === "number");
  const title = params.title ? { text: String(params.title) } : undefined;
  if (type === "pie") {
    return finish({
      title,
      tooltip: { trigger: "item" },
      legend: { type: "scroll", bottom: 0 },
      series: [
        {
          type: "pie",
          radius: ["35%", "65%"],
          center: ["50%", "52%"],
          name: ys[0],
          data: objects.map((row) => ({ name: String(row[x]), value: row[ys[0]] })),
        },
      ],
    });
  }
  if (type === "scatter") {
    return finish({
      title,
      legend: ys.length > 1 ? { bottom: 0 } : undefined,
      xAxis: { type: "value", name: x, scale: true },
      yAxis: { type: "value", scale: true },
      series: ys.map((field) => ({ type: "scatter", name: field, data: objects.map((row) => [row[x], row[field]]) })),
    });
  }
  const seriesType = type === "line" || type === "area" ? "line" : "bar";
  return finish({
    title,
    legend: ys.length > 1 ? { bottom: 0 } : undefined,
    xAxis: { type: "category", data: objects.map((row) => row[x]), name: x },
    yAxis: { type: "value" },
    series: ys.map((field) => ({
      type: seriesType,
      name: field,
      data: objects.map((row) => row[field]),
      smooth: seriesType === "line",
      areaStyle: type === "area" ? {} : undefined,
    })),
  });
}

export function chartTitle(option) {
  const title = Array.isArray(option.title) ? option.title[0] : option.title;
  return (title && title.text) || "";
}

/** Draw `option` into `element`; resolves to the chart instance. */
export async function drawChart(element, option) {
  const echarts = await loadECharts();
  const chart = echarts.init(element, "myagent", { renderer: "canvas" });
  chart.setOption(option);
  const observer = new ResizeObserver(() => chart.resize());
  observer.observe(element);
  element.addEventListener("chart-dispose", () => {
    observer.disconnect();
    chart.dispose();
  });
  return chart;
}

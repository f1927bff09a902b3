import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";
import type { ChartSpec } from "./chartOption";

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

const PALETTE = ["#3b63d8", "#14a38b", "#f08c2e", "#8c5bd6", "#e0527a", "#4aa3df"];

/** One chart: drawn when it appears, resized with its box, disposed when it goes. */
export function Chart({ spec }: { spec: ChartSpec }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption({ color: PALETTE, animationDuration: 300, ...spec.option });
    const observer = new ResizeObserver(() => chart.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.dispose();
    };
  }, [spec]);
  return (
    <figure className="chart-card" data-points={spec.points}>
      {spec.title && <figcaption>{spec.title}</figcaption>}
      <div className="chart" ref={box} role="img" aria-label={spec.title || "chart"} />
    </figure>
  );
}

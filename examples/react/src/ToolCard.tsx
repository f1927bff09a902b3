import type { ToolCall } from "@myagent/client/react";
import { useMemo } from "react";
import { Chart } from "./Chart";
import { chartSpec } from "./chartOption";

const STATUS_TEXT: Record<ToolCall["status"], string> = {
  running: "运行中",
  awaiting_approval: "等待确认",
  approved: "已批准",
  refused: "已拒绝",
  expired: "已过期",
  done: "完成",
  failed: "失败",
  cancelled: "已取消",
};

export function ToolCard({ call }: { call: ToolCall }) {
  const chart = useMemo(() => (call.status === "done" ? chartSpec(call.data, call.args) : null), [call.status, call.data, call.args]);
  return (
    <div className="tool-item">
      <details className="tool" data-status={call.status} data-tool={call.name}>
        <summary>
          <span className="tool-name">{call.name}</span>
          <span className="tool-args">{preview(call.args)}</span>
          {call.taskId !== null && <span className="task-tag">任务 {String(call.taskId)}</span>}
          <span className="badge" data-status={call.status}>
            {STATUS_TEXT[call.status]}
          </span>
        </summary>
        <div className="tool-body">
          <h4>参数</h4>
          <pre>{JSON.stringify(call.args ?? {}, null, 2)}</pre>
          {call.output !== null && (
            <>
              <h4>结果</h4>
              <pre>{call.output}</pre>
            </>
          )}
          {call.error && <p className="note error">{call.error}</p>}
        </div>
      </details>
      {chart && <Chart spec={chart} />}
    </div>
  );
}

function preview(args: unknown): string {
  if (typeof args !== "object" || args === null) return String(args ?? "");
  const text = Object.entries(args)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(", ");
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

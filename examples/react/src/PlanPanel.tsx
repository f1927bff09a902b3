import type { AgentSessionHandle, PlanTask } from "@myagent/client/react";

const PHASE_TEXT = {
  planning: "规划中",
  planned: "已规划",
  review: "待确认",
  solving: "执行中",
  aggregating: "汇总中",
  done: "完成",
  cancelled: "已取消",
  failed: "失败",
} as const;

const TASK_TEXT: Record<PlanTask["status"], string> = {
  pending: "等待",
  running: "运行中",
  completed: "完成",
  failed: "失败",
  cancelled: "已取消",
};

/** The Plan & Solve tasks with their status and a cancel or restart button each. */
export function PlanPanel({ agent }: { agent: AgentSessionHandle }) {
  const plan = agent.plan!;
  return (
    <aside className="plan" aria-label="计划">
      <h2>
        计划 <span className="badge">{PHASE_TEXT[plan.phase]}</span>
      </h2>
      {plan.summary && <p className="plan-summary">{plan.summary}</p>}
      <ol className="tasks">
        {plan.tasks.map((task) => (
          <li key={String(task.id)} className="task" data-status={task.status}>
            <div className="task-head">
              <span className="task-title">{task.title || `任务 ${String(task.id)}`}</span>
              <span className="badge" data-status={task.status}>
                {TASK_TEXT[task.status]}
              </span>
            </div>
            {task.summary && <p className="task-summary">{task.summary}</p>}
            {task.error && <p className="note error">{task.error}</p>}
            <div className="task-actions">
              {(task.status === "running" || task.status === "pending") && (
                <button type="button" className="btn small" disabled={task.control !== null} onClick={() => void agent.cancelTask(task.id)}>
                  取消
                </button>
              )}
              {(task.status === "failed" || task.status === "cancelled" || task.status === "completed") && (
                <button type="button" className="btn small" disabled={task.control !== null} onClick={() => void agent.restartTask(task.id)}>
                  重新执行
                </button>
              )}
            </div>
          </li>
        ))}
      </ol>
    </aside>
  );
}

/** The Plan & Solve part of the state: the plan's phase and its tasks, from `plan.*`, `solver.*`,
 * `aggregate.*` and `pipeline.*` events. Pure functions. */
import { AggregateEvents, PipelineEvents, PlanEvents, SolverEvents } from "@myagent/client";
import { contentObject, contentText, type Frame, isObject, metaOf, str, taskIdOf } from "./read.js";
import type { PlanState, PlanTask, TaskId, TaskStatus } from "./state.js";

const TERMINAL_PHASES = new Set(["done", "cancelled", "failed"]);

export function emptyPlan(question = ""): PlanState {
  return { phase: "planning", question, summary: "", tasks: [], output: null, error: "" };
}

export function sameTask(a: TaskId, b: TaskId): boolean {
  return String(a) === String(b);
}

function newTask(id: TaskId, task: Record<string, unknown> | null): PlanTask {
  return {
    id,
    title: str(task?.title),
    objective: str(task?.objective),
    status: "pending",
    text: "",
    summary: "",
    output: null,
    error: "",
    control: null,
  };
}

/** `plan` with task `id` changed by `change` (added first when unknown). */
export function updateTask(
  plan: PlanState,
  id: TaskId,
  change: Partial<PlanTask>,
  task: Record<string, unknown> | null = null,
): PlanState {
  const index = plan.tasks.findIndex((t) => sameTask(t.id, id));
  const current = index >= 0 ? plan.tasks[index]! : newTask(id, task);
  const titled = task !== null && current.title === "" ? { title: str(task.title), objective: str(task.objective) } : {};
  const next = { ...current, ...titled, ...change };
  const tasks = index >= 0 ? plan.tasks.map((t, i) => (i === index ? next : t)) : [...plan.tasks, next];
  return { ...plan, tasks };
}

function tasksFrom(value: unknown): PlanTask[] {
  if (!Array.isArray(value)) return [];
  const tasks: PlanTask[] = [];
  for (const item of value) {
    const id = isObject(item) ? taskIdOf(item.id) : null;
    if (id !== null && isObject(item)) tasks.push(newTask(id, item));
  }
  return tasks;
}

/** Whether `event` is one of the Plan & Solve milestones this module reduces. */
export function isPlanEvent(event: string): boolean {
  return /^(plan|solver|aggregate|pipeline)\./.test(event);
}

/** The plan after a Plan & Solve milestone. */
export function reducePlan(plan: PlanState | null, frame: Frame): PlanState | null {
  const content = contentObject(frame);
  const task = isObject(content.task) ? content.task : null;
  const taskId = taskIdOf(metaOf(frame).task_id) ?? taskIdOf(task?.id);
  const current = plan ?? emptyPlan();
  const setTask = (status: TaskStatus, change: Partial<PlanTask> = {}): PlanState =>
    taskId === null ? current : updateTask(current, taskId, { status, control: null, ...change }, task);
  switch (frame.event) {
    case PlanEvents.START:
      return emptyPlan(str(content.question, typeof frame.content === "string" ? frame.content : ""));
    case PlanEvents.COMPLETED:
      return { ...current, phase: "planned", summary: str(content.plan_summary), tasks: tasksFrom(content.tasks) };
    case PlanEvents.CANCELLED:
      return { ...current, phase: "cancelled" };
    case PlanEvents.COERCION_ERROR:
      return { ...current, phase: "failed", error: str(content.error, contentText(frame)) };
    case SolverEvents.START:
      return { ...setTask("running", { error: "" }), phase: "solving" };
    case SolverEvents.RESTARTED:
      return { ...setTask("running", { text: "", summary: "", output: null, error: "" }), phase: "solving" };
    case SolverEvents.COMPLETED: {
      const result = isObject(content.result) ? content.result : {};
      return setTask("completed", { summary: str(result.summary), output: result.output ?? null });
    }
    case SolverEvents.FAILED:
      return setTask("failed", { error: str(content.error, contentText(frame)) });
    case SolverEvents.CANCELLED:
      return setTask("cancelled");
    case AggregateEvents.START:
      return { ...current, phase: "aggregating" };
    case AggregateEvents.COMPLETED:
      return { ...current, output: content.output ?? contentText(frame) };
    case PipelineEvents.COMPLETED:
    case PipelineEvents.TASKS_COMPLETED:
      return { ...current, phase: "done" };
    default:
      return plan;
  }
}

/** The plan once its run ended: unfinished tasks were cancelled unless the run answered. */
export function settlePlan(plan: PlanState | null, answered: boolean): PlanState | null {
  if (plan === null || TERMINAL_PHASES.has(plan.phase)) return plan;
  const planning = plan.phase === "planning" || plan.phase === "planned" || plan.phase === "review";
  const tasks = plan.tasks.map((t) => ({
    ...t,
    control: null,
    status: !answered && (t.status === "pending" || t.status === "running") ? ("cancelled" as const) : t.status,
  }));
  return { ...plan, phase: planning ? "cancelled" : "done", tasks };
}

// The Plan & Solve panel: the plan's tasks with their status (pending, running, completed, failed,
// cancelled), a cancel or restart button per task, the plan summary and the combined result.

import { h, icon, isPlainObject, prettyJson } from "./dom.js";
import { bindAttr, bindText } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { AgentEvents, AggregateEvents, PipelineEvents, PlanEvents, SolverEvents, SystemEvents } from "../vendor/myagent-client/index.js";

const ACTIVE = new Set(["pending", "running"]);

export class PlanView {
  /**
   * @param {HTMLElement} panel
   * @param {{cancelTask: (id) => boolean, restartTask: (id) => boolean, cancelPlan: () => boolean, replan: (question?: string) => boolean}} actions
   *   each sends its request and says whether it could
   */
  constructor(panel, actions) {
    this.panel = panel;
    this.actions = actions;
    this.reset();
  }

  reset() {
    this.phase = null;
    this.question = "";
    this.summary = "";
    this.tasks = new Map(); // String(id) → {id, task, status, result, error, busy}
    this.aggregate = null;
    this.totals = null;
    this.coercionError = "";
    this.render();
  }

  get active() {
    return this.phase !== null;
  }

  handle(frame) {
    const content = isPlainObject(frame.content) ? frame.content : {};
    const meta = frame.metadata || {};
    const taskOf = () => {
      const task = isPlainObject(content.task) ? content.task : null;
      const id = meta.task_id ?? task?.id;
      return id === undefined ? null : this.upsert(id, task);
    };
    switch (frame.event) {
      case PlanEvents.START:
        this.reset();
        this.phase = "planning";
        this.question = typeof content.question === "string" ? content.question : typeof frame.content === "string" ? frame.content : "";
        break;
      case PlanEvents.COMPLETED:
        this.phase = "planned";
        this.summary = String(content.plan_summary ?? "");
        this.tasks.clear();
        for (const task of Array.isArray(content.tasks) ? content.tasks : []) {
          if (isPlainObject(task) && task.id !== undefined) this.upsert(task.id, task);
        }
        break;
      case AgentEvents.USER_CONFIRM:
        if (meta.scope !== "plan") return;
        this.phase = "review";
        if (meta.plan_summary) this.summary = String(meta.plan_summary);
        if (Array.isArray(meta.tasks) && !this.tasks.size) for (const task of meta.tasks) if (isPlainObject(task)) this.upsert(task.id, task);
        break;
      case PlanEvents.CANCELLED:
        this.phase = "cancelled";
        break;
      case PlanEvents.COERCION_ERROR:
        this.phase = "failed";
        this.coercionError = String(content.error ?? frame.content ?? "");
        break;
      case SolverEvents.START: {
        this.phase = "solving";
        const entry = taskOf();
        if (entry) Object.assign(entry, { status: "running", error: "", busy: false });
        break;
      }
      case SolverEvents.RESTARTED: {
        const entry = taskOf();
        if (entry) Object.assign(entry, { status: "running", result: null, error: "", busy: false });
        if (this.phase === "done" || this.phase === "aggregating") this.phase = "solving";
        break;
      }
      case SolverEvents.COMPLETED: {
        const entry = taskOf();
        if (entry) Object.assign(entry, { status: "completed", result: content.result ?? null, busy: false });
        break;
      }
      case SolverEvents.FAILED: {
        const entry = taskOf();
        if (entry) Object.assign(entry, { status: "failed", error: String(content.error ?? (typeof frame.content === "string" ? frame.content : "")), busy: false });
        break;
      }
      case SolverEvents.CANCELLED: {
        const entry = taskOf();
        if (entry) Object.assign(entry, { status: "cancelled", busy: false });
        break;
      }
      case AggregateEvents.START:
        this.phase = "aggregating";
        break;
      case AggregateEvents.COMPLETED:
        this.aggregate = content.output ?? (typeof frame.content === "string" ? frame.content : null);
        break;
      case PipelineEvents.COMPLETED:
        this.phase = "done";
        this.totals = tokenTotal(content.statistics);
        break;
      case AgentEvents.FINAL_ANSWER:
      case AgentEvents.ERROR:
      case AgentEvents.INTERRUPTED:
        if (!this.phase || this.phase === "done" || this.phase === "cancelled" || this.phase === "failed") return;
        if (["planning", "planned", "review"].includes(this.phase)) this.phase = "cancelled";
        else this.phase = "done";
        for (const entry of this.tasks.values()) {
          if (ACTIVE.has(entry.status) && frame.event !== AgentEvents.FINAL_ANSWER) entry.status = "cancelled";
          entry.busy = false;
        }
        break;
      case SystemEvents.NOTICE:
        if (["cancel_task", "restart_task"].includes(meta.action) && meta.task_id !== undefined) {
          const entry = this.tasks.get(String(meta.task_id));
          if (entry) entry.busy = false;
        }
        break;
      default:
        return;
    }
    this.render();
  }

  /** The user approved the plan with edited tasks: those are the ones that will run. */
  acceptEdited(tasks) {
    this.tasks.clear();
    for (const task of tasks) if (isPlainObject(task) && task.id !== undefined) this.upsert(task.id, task);
    this.phase = "planned";
    this.render();
  }

  /** A control for this plan was rejected (system.error): allow another try. */
  controlFailed() {
    for (const entry of this.tasks.values()) entry.busy = false;
    this.render();
  }

  upsert(id, task) {
    const key = String(id);
    let entry = this.tasks.get(key);
    if (!entry) {
      entry = { id, task: task || { id }, status: "pending", result: null, error: "", busy: false };
      this.tasks.set(key, entry);
    } else if (task) entry.task = { ...entry.task, ...task };
    return entry;
  }

  // -- rendering -------------------------------------------------------------------------------

  render() {
    const panel = this.panel;
    panel.hidden = !this.active;
    if (!this.active) {
      panel.replaceChildren();
      return;
    }
    const entries = [...this.tasks.values()];
    const finished = entries.filter((entry) => !ACTIVE.has(entry.status)).length;
    const phase = h("span", { class: "badge badge-phase", dataset: { phase: this.phase } });
    bindText(phase, `plan.phase.${this.phase}`);
    const head = h("div", { class: "panel-head" }, h("h2", { id: "plan-heading" }, icon("list", "icon icon-sm"), bindText(h("span"), "plan.heading")), phase);
    const parts = [head];
    if (this.question) parts.push(h("p", { class: "plan-question" }, this.question));
    if (this.summary) parts.push(h("p", { class: "plan-summary" }, this.summary));
    if (entries.length) {
      const percent = Math.round((finished / entries.length) * 100);
      const progressLabel = bindText(h("span", { class: "progress-label" }), "plan.progress", { done: finished, n: entries.length });
      parts.push(
        h(
          "div",
          { class: "plan-progress" },
          h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(entries.length), "aria-valuenow": String(finished), "aria-labelledby": "plan-progress-label" }, h("div", { class: "progress-bar", style: `width: ${percent}%` })),
          Object.assign(progressLabel, { id: "plan-progress-label" }),
        ),
      );
      const list = h("ol", { class: "plan-tasks", "aria-labelledby": "plan-heading" });
      for (const entry of entries) list.append(this.taskItem(entry));
      parts.push(list);
    }
    if (this.coercionError) parts.push(h("p", { class: "alert alert-error" }, this.coercionError));
    if (this.aggregate !== null && this.aggregate !== undefined) {
      parts.push(h("section", { class: "plan-aggregate" }, h("h3", {}, bindText(h("span"), "plan.aggregate")), resultView(this.aggregate)));
    }
    if (this.totals) parts.push(bindText(h("p", { class: "plan-totals muted" }), "plan.tokens", { n: this.totals.toLocaleString() }));
    const controls = h("div", { class: "btn-row" });
    if (this.phase === "planning" || this.phase === "review") {
      controls.append(this.button("plan.cancel_plan", "cross", () => this.actions.cancelPlan()));
    }
    if (["review", "cancelled", "failed", "done"].includes(this.phase)) {
      controls.append(this.button("plan.replan", "retry", () => this.actions.replan(this.question || undefined)));
    }
    if (controls.children.length) parts.push(controls);
    panel.replaceChildren(...parts);
  }

  taskItem(entry) {
    const task = entry.task;
    const title = String(task.title ?? task.name ?? `#${entry.id}`);
    const objective = task.objective ?? task.description;
    const status = h("span", { class: "badge", dataset: { status: entry.status } });
    bindText(status, `plan.status.${entry.status}`);
    const main = h("div", { class: "task-main" }, h("div", { class: "task-title" }, h("span", { class: "task-id" }, `${entry.id}`), h("span", {}, title)));
    if (objective) main.append(h("p", { class: "task-objective" }, String(objective)));
    if (entry.status === "completed" && entry.result) {
      const summary = isPlainObject(entry.result) ? entry.result.summary : entry.result;
      if (summary) main.append(h("p", { class: "task-result" }, icon("check", "icon icon-sm"), h("span", {}, String(summary))));
      const output = isPlainObject(entry.result) ? entry.result.output : null;
      if (output !== null && output !== undefined) {
        main.append(h("details", { class: "task-output" }, bindText(h("summary"), "plan.result"), h("pre", { class: "code" }, prettyJson(output))));
      }
    }
    if (entry.error) main.append(h("p", { class: "task-error" }, entry.error));
    const actions = h("div", { class: "task-actions" });
    const args = { id: entry.id, title };
    if (ACTIVE.has(entry.status) && (this.phase === "solving" || this.phase === "aggregating")) {
      const cancel = this.button("plan.cancel_task", "cross", () => this.taskControl(entry, this.actions.cancelTask), "btn-xs");
      bindAttr(cancel, "aria-label", "plan.cancel_task_label", args);
      cancel.disabled = entry.busy;
      actions.append(cancel);
    } else if (!ACTIVE.has(entry.status) && ["solving", "aggregating", "done"].includes(this.phase)) {
      const restart = this.button("plan.restart_task", "retry", () => this.taskControl(entry, this.actions.restartTask), "btn-xs");
      bindAttr(restart, "aria-label", "plan.restart_task_label", args);
      restart.disabled = entry.busy;
      actions.append(restart);
    }
    if (actions.children.length) main.append(actions);
    return h("li", { class: "plan-task", dataset: { status: entry.status, taskId: String(entry.id) } }, h("span", { class: "task-dot", "aria-hidden": "true" }), main, status);
  }

  button(key, iconName, onClick, size = "btn-sm") {
    const button = h("button", { type: "button", class: `btn btn-ghost ${size}`, onclick: onClick }, icon(iconName, "icon icon-sm"));
    button.append(bindText(h("span"), key));
    return button;
  }

  taskControl(entry, send) {
    if (entry.busy) return;
    if (send(entry.id)) {
      entry.busy = true;
      this.render();
    }
  }
}

function resultView(output) {
  if (typeof output === "string") return h("div", { class: "answer" }, renderMarkdown(output));
  if (isPlainObject(output)) {
    const text = output.text ?? output.summary ?? output.report ?? output.answer;
    if (typeof text === "string") {
      const view = h("div", { class: "answer" }, renderMarkdown(text));
      return h("div", {}, view, h("details", { class: "task-output" }, bindText(h("summary"), "plan.result"), h("pre", { class: "code" }, prettyJson(output))));
    }
  }
  return h("pre", { class: "code" }, prettyJson(output));
}

function tokenTotal(statistics) {
  if (!Array.isArray(statistics)) return null;
  let total = 0;
  for (const call of statistics) if (isPlainObject(call) && typeof call.total_tokens === "number") total += call.total_tokens;
  return total || null;
}


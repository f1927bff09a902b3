// The confirmation dialog for `agent.user_confirm`: a tool to approve or refuse (with a note), or a
// plan (scope "plan") whose tasks can be edited, removed and added before it runs.
//
// Keyboard: Enter approves (Ctrl/⌘+Enter inside the note), Escape refuses, Tab stays in the dialog.

import { focusables, h, icon, isPlainObject, prettyJson } from "./dom.js";
import { bindAttr, bindText, t } from "./i18n.js";
import { AgentEvents, PipelineEvents, PlanEvents, SolverEvents } from "../vendor/myagent-client/index.js";

export class ConfirmDialog {
  /**
   * @param {HTMLDialogElement} dialog
   * @param {{answer: (stepId: string, content: object) => boolean, isAnswered: (stepId: string) => boolean, replan: () => boolean}} actions
   */
  constructor(dialog, actions) {
    this.dialog = dialog;
    this.actions = actions;
    this.queue = []; // requests in arrival order: {stepId, meta, resent}
    this.current = null;
    this.online = true;
    this.timer = null;
    this.returnFocus = null;
    this.build();
  }

  build() {
    const d = this.dialog;
    d.setAttribute("aria-labelledby", "confirm-title");
    d.setAttribute("aria-describedby", "confirm-desc");
    this.icon = h("span", { class: "dialog-icon", "aria-hidden": "true" });
    this.title = h("h2", { id: "confirm-title" });
    this.description = h("p", { class: "dialog-sub", id: "confirm-desc" });
    this.queueChip = h("span", { class: "chip", hidden: true });
    this.body = h("div", { class: "dialog-body" });
    this.note = h("textarea", { id: "confirm-note", rows: "2", class: "input" });
    bindAttr(this.note, "placeholder", "confirm.note_placeholder");
    this.noteField = h("div", { class: "field" }, bindText(h("label", { for: "confirm-note", class: "label" }), "confirm.note"), this.note);
    this.expiry = h("span", { class: "expiry" });
    this.offline = bindText(h("p", { class: "dialog-offline", role: "status", hidden: true }), "confirm.offline");
    this.replanButton = h("button", { type: "button", class: "btn btn-ghost", hidden: true, onclick: () => this.replan() });
    bindText(this.replanButton, "confirm.replan");
    this.refuseButton = h("button", { type: "button", class: "btn btn-danger-ghost", onclick: () => this.refuse() });
    this.approveButton = h("button", { type: "button", class: "btn btn-primary", onclick: () => this.approve() });
    bindText(this.refuseButton, "confirm.refuse");
    bindText(this.approveButton, "confirm.approve");
    const form = h(
      "form",
      { class: "dialog-card", method: "dialog", onsubmit: (event) => event.preventDefault() },
      h("header", { class: "dialog-head" }, this.icon, h("div", { class: "dialog-heading" }, this.title, this.description), this.queueChip),
      this.body,
      this.noteField,
      this.offline,
      h("footer", { class: "dialog-foot" }, this.expiry, h("span", { class: "spacer" }), this.replanButton, this.refuseButton, this.approveButton),
      bindText(h("p", { class: "dialog-hint", "aria-hidden": "true" }), "confirm.hint"),
    );
    d.replaceChildren(form);
    d.addEventListener("keydown", (event) => this.onKey(event));
    d.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.refuse();
    });
  }

  // -- incoming events -------------------------------------------------------------------------

  handle(frame) {
    const meta = frame.metadata || {};
    switch (frame.event) {
      case AgentEvents.USER_CONFIRM: {
        const stepId = frame.step_id;
        if (!stepId) return;
        const existing = this.queue.find((request) => request.stepId === stepId);
        if (existing) {
          existing.meta = meta;
          existing.resent = Boolean(meta.resent);
          if (existing === this.current) this.renderExpiry();
          return;
        }
        // Answered here already: if the server asks again after a resume, the client re-sends our answer.
        if (this.actions.isAnswered(stepId)) return;
        this.queue.push({ stepId, meta, resent: Boolean(meta.resent) });
        this.showNext();
        break;
      }
      case AgentEvents.TOOL_RESULT:
        this.drop((request) => request.meta.call_id && request.meta.call_id === meta.call_id);
        break;
      case AgentEvents.CONFIRMATION_WITHDRAWN:
        this.drop((request) => request.stepId === meta.step_id);
        break;
      case SolverEvents.START:
      case PlanEvents.CANCELLED:
      case PlanEvents.COERCION_ERROR:
        this.drop((request) => request.meta.scope === "plan");
        break;
      case AgentEvents.FINAL_ANSWER:
      case AgentEvents.ERROR:
      case AgentEvents.INTERRUPTED:
      case PipelineEvents.TASKS_COMPLETED:
      case AgentEvents.SESSION_END:
        this.drop(() => true);
        break;
      default:
    }
  }

  clear() {
    this.drop(() => true);
  }

  drop(matches) {
    const before = this.queue.length;
    this.queue = this.queue.filter((request) => !matches(request));
    if (this.queue.length === before) return;
    if (this.current && !this.queue.includes(this.current)) {
      this.current = null;
      this.showNext();
    } else this.renderQueueChip();
  }

  setOnline(online) {
    this.online = online;
    this.offline.hidden = online || !this.current;
    for (const button of [this.approveButton, this.refuseButton, this.replanButton]) button.disabled = !online || this.expired();
  }

  get isOpen() {
    return this.dialog.open;
  }

  // -- showing ---------------------------------------------------------------------------------

  showNext() {
    if (this.current) {
      this.renderQueueChip();
      return;
    }
    const next = this.queue[0];
    if (!next) {
      this.close();
      return;
    }
    this.current = next;
    this.render(next);
    if (!this.dialog.open) {
      this.returnFocus = document.activeElement;
      this.dialog.showModal();
    }
    this.approveButton.focus();
  }

  close() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.dialog.open) this.dialog.close();
    const target = this.returnFocus;
    this.returnFocus = null;
    if (target && document.contains(target) && typeof target.focus === "function") target.focus();
  }

  render(request) {
    const meta = request.meta;
    const plan = meta.scope === "plan";
    this.dialog.dataset.scope = plan ? "plan" : "tool";
    this.icon.replaceChildren(icon(plan ? "list" : "shield", "icon"));
    bindText(this.title, plan ? "confirm.title_plan" : "confirm.title_tool");
    this.description.textContent = plan ? String(meta.plan_summary || "") : String(meta.tool_description || "");
    this.description.hidden = !this.description.textContent;
    bindText(this.approveButton, plan ? "confirm.run_plan" : "confirm.approve");
    bindText(this.refuseButton, plan ? "confirm.reject_plan" : "confirm.refuse");
    this.replanButton.hidden = !plan;
    this.note.value = "";
    this.body.replaceChildren(...(plan ? this.planBody(meta) : this.toolBody(meta)));
    if (request.resent) this.body.prepend(bindText(h("p", { class: "chip chip-info" }), "confirm.resent"));
    this.renderQueueChip();
    this.renderExpiry();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.renderExpiry(), 1000);
    this.setOnline(this.online);
  }

  renderQueueChip() {
    const index = this.current ? this.queue.indexOf(this.current) + 1 : 0;
    this.queueChip.hidden = this.queue.length < 2;
    bindText(this.queueChip, "confirm.queue", { i: Math.max(1, index), n: this.queue.length });
  }

  toolBody(meta) {
    const args = meta.tool_args;
    let argsView;
    if (isPlainObject(args) && Object.keys(args).length) {
      argsView = h("dl", { class: "args-table" });
      for (const [key, value] of Object.entries(args)) {
        argsView.append(h("dt", {}, key), h("dd", {}, typeof value === "string" ? value : prettyJson(value)));
      }
    } else if (args !== undefined && !isPlainObject(args)) {
      argsView = h("pre", { class: "code" }, prettyJson(args));
    } else {
      argsView = bindText(h("p", { class: "muted" }), "confirm.no_arguments");
    }
    return [
      h("div", { class: "field" }, bindText(h("span", { class: "label" }), "confirm.tool"), h("code", { class: "tool-chip" }, String(meta.tool_name || "tool"))),
      h("div", { class: "field" }, bindText(h("span", { class: "label" }), "confirm.arguments"), argsView),
    ];
  }

  // -- plan editing ----------------------------------------------------------------------------

  planBody(meta) {
    const tasks = Array.isArray(meta.tasks) ? meta.tasks : [];
    this.tasks = tasks.map((task) => (isPlainObject(task) ? structuredClone(task) : { id: task, title: String(task) }));
    this.originalTasks = JSON.stringify(this.tasks);
    this.taskList = h("ol", { class: "task-editor" });
    this.addButton = h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => this.addTask() }, icon("plus", "icon icon-sm"));
    this.addButton.append(bindText(h("span"), "confirm.add_task"));
    this.editedChip = bindText(h("span", { class: "chip chip-info", hidden: true }), "confirm.edited");
    const heading = h("div", { class: "task-editor-head" }, bindText(h("span", { class: "label" }), "confirm.tasks"), this.editedChip);
    this.renderTasks();
    return [heading, this.taskList, this.addButton];
  }

  renderTasks(focus) {
    const list = this.taskList;
    list.replaceChildren();
    if (!this.tasks.length) list.append(bindText(h("li", { class: "task-empty" }), "confirm.no_tasks"));
    this.tasks.forEach((task, index) => {
      const n = index + 1;
      const titleId = `task-title-${index}`;
      const objectiveId = `task-objective-${index}`;
      const title = h("input", { id: titleId, class: "input", type: "text", value: task.title ?? "" });
      title.addEventListener("input", () => this.editTask(index, "title", title.value));
      const objective = h("textarea", { id: objectiveId, class: "input", rows: "2" });
      objective.value = task.objective ?? task.description ?? "";
      objective.addEventListener("input", () => this.editTask(index, task.objective === undefined && task.description !== undefined ? "description" : "objective", objective.value));
      const remove = h("button", { type: "button", class: "btn btn-ghost btn-xs", onclick: () => this.removeTask(index) }, icon("trash", "icon icon-sm"));
      remove.append(bindText(h("span"), "confirm.remove_task"));
      bindAttr(remove, "aria-label", "confirm.remove_task_label", { n });
      list.append(
        h(
          "li",
          { class: "task-edit", dataset: { taskId: String(task.id ?? "") } },
          h("div", { class: "task-edit-head" }, bindText(h("span", { class: "task-num" }), "confirm.task", { n }), remove),
          bindText(h("label", { for: titleId, class: "label" }), "confirm.task_title"),
          title,
          bindText(h("label", { for: objectiveId, class: "label" }), "confirm.task_objective"),
          objective,
        ),
      );
      if (focus === index) title.focus();
    });
    this.markEdited();
    this.approveButton.disabled = !this.online || !this.tasks.length || this.expired();
  }

  editTask(index, field, value) {
    this.tasks[index][field] = value;
    this.markEdited();
  }

  removeTask(index) {
    this.tasks.splice(index, 1);
    this.renderTasks();
    const removes = this.taskList.querySelectorAll(".task-edit .btn");
    (removes[Math.min(index, removes.length - 1)] || this.addButton).focus();
  }

  addTask() {
    // Ids of removed tasks are not reused: the server may still know them from the original plan.
    const ids = [...this.tasks, ...JSON.parse(this.originalTasks)].map((task) => task.id);
    const numeric = ids.every((id) => typeof id === "number");
    let next = numeric ? Math.max(0, ...ids) + 1 : `task-${ids.length + 1}`;
    while (!numeric && ids.includes(next)) next = `${next}+`;
    this.tasks.push({ id: next, title: "", objective: "" });
    this.renderTasks(this.tasks.length - 1);
  }

  markEdited() {
    if (this.editedChip) this.editedChip.hidden = !this.planEdited();
  }

  planEdited() {
    return JSON.stringify(this.tasks) !== this.originalTasks;
  }

  // -- answers ---------------------------------------------------------------------------------

  expired() {
    const expires = Date.parse(this.current?.meta.expires_at ?? "");
    return Number.isFinite(expires) && expires <= Date.now();
  }

  renderExpiry() {
    const expires = Date.parse(this.current?.meta.expires_at ?? "");
    if (!Number.isFinite(expires)) {
      this.expiry.replaceChildren();
      return;
    }
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    const text = left > 0 ? t("confirm.expires_in", { t: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` }) : t("confirm.expired");
    this.expiry.replaceChildren(icon("clock", "icon icon-sm"), h("span", {}, text));
    this.expiry.classList.toggle("expired", left === 0);
    this.expiry.classList.toggle("soon", left > 0 && left <= 30);
    if (left === 0) this.setOnline(this.online);
  }

  approve() {
    if (this.approveButton.disabled || !this.current) return;
    const content = { confirmed: true };
    if (this.current.meta.scope === "plan" && this.planEdited()) content.tasks = this.tasks;
    const note = this.note.value.trim();
    if (note) content.message = note;
    this.answer(content);
  }

  refuse() {
    if (this.refuseButton.disabled || !this.current) return;
    const content = { confirmed: false };
    const note = this.note.value.trim();
    if (note) content.message = note;
    this.answer(content);
  }

  replan() {
    if (!this.current || !this.actions.replan()) return;
    this.finishCurrent();
  }

  answer(content) {
    const request = this.current;
    if (!this.actions.answer(request.stepId, content)) return;
    this.finishCurrent();
  }

  finishCurrent() {
    this.queue = this.queue.filter((item) => item !== this.current);
    this.current = null;
    this.showNext();
  }

  onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // Escape here answers the dialog; it must not also stop the run
      this.refuse();
      return;
    }
    if (event.key === "Enter" && !event.isComposing) {
      const target = event.target;
      const multiline = target instanceof HTMLTextAreaElement;
      if (event.ctrlKey || event.metaKey || (!multiline && !(target instanceof HTMLButtonElement) && !event.shiftKey)) {
        event.preventDefault();
        this.approve();
      }
      return;
    }
    if (event.key === "Tab") {
      const items = focusables(this.dialog);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && (document.activeElement === first || !this.dialog.contains(document.activeElement))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  }
}

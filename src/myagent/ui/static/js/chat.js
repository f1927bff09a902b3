// The conversation: user messages, agent turns with streamed answers, tool-call cards (paired by
// call id) and charts. A Plan & Solve run groups each task's activity (tool calls, text, charts) under
// the task. The view also keeps the transcript records that a saved state carries along.

import { chartOption, chartTitle, drawChart } from "./charts.js";
import { argsPreview, formatDuration, h, icon, isPlainObject, prettyJson } from "./dom.js";
import { bindAttr, bindText, formatClock, t } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { AgentEvents, AggregateEvents, PipelineEvents, PlanEvents, SolverEvents, ToolStatuses } from "../vendor/myagent-client/index.js";

const ACTIVITY = new Set([
  AgentEvents.THINKING,
  AgentEvents.TOOL_CALL,
  AgentEvents.USER_CONFIRM,
  AgentEvents.TOOL_RESULT,
  AgentEvents.PARTIAL_ANSWER,
]);
const PIPELINE = /^(plan|solver|aggregate|pipeline)\./;
// The protocol's statuses, "awaiting" (the console's own: a confirmation is open) and the statuses of
// transcripts saved by older versions ("ok", "error", ...).
const TOOL_STATUSES = new Set([...Object.values(ToolStatuses), "awaiting", "ok", "error", "invalid_arguments", "unknown_tool", "timeout"]);
const toolName = (meta) => meta.tool || meta.tool_name || "tool";
const toolArgs = (meta) => (meta.args !== undefined ? meta.args : meta.tool_args);

export class ChatView {
  constructor(container, { agentName }) {
    this.container = container;
    this.agentName = agentName;
    this.records = [];
    this.turn = null; // the open agent turn
    this.tools = new Map(); // tool key → card
    this.taskTitles = new Map();
    this.empty = container.querySelector(".empty-state");
    this.stick = true; // follow new content while the reader is at the bottom
    container.addEventListener("scroll", () => {
      this.stick = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
    });
  }

  // -- records (saved with the state) --------------------------------------------------------

  record(item) {
    const last = this.records[this.records.length - 1];
    if (
      item.t === "ev" &&
      item.f.event === AgentEvents.PARTIAL_ANSWER &&
      last?.t === "ev" &&
      last.f.event === AgentEvents.PARTIAL_ANSWER &&
      textKey(last.f) === textKey(item.f)
    ) {
      // Deltas of one text are kept as one record: on screen the text matters, not the frames.
      last.f = { ...item.f, content: last.f.content + item.f.content };
      return;
    }
    this.records.push(item);
  }

  /** Render saved records (after a restore); a turn left open is marked unfinished. */
  load(records) {
    for (const item of records || []) {
      if (item.t === "user") this.userMessage(item.text, { at: item.at });
      else if (item.t === "ev" && item.f) this.handle(item.f, { replaying: true });
      else if (item.t === "plan") this.records.push(item);
    }
    if (this.turn) this.closeTurn("unfinished");
    this.scrollToEnd(true);
  }

  clear() {
    for (const chart of this.container.querySelectorAll(".chart")) chart.dispatchEvent(new Event("chart-dispose"));
    for (const node of [...this.container.children]) if (node !== this.empty) node.remove();
    this.records = [];
    this.turn = null;
    this.tools.clear();
    this.taskTitles.clear();
    this.updateEmpty();
  }

  updateEmpty() {
    if (this.empty) this.empty.hidden = this.container.children.length > 1;
  }

  add(node) {
    this.container.append(node);
    this.updateEmpty();
  }

  // -- user messages and system lines --------------------------------------------------------

  userMessage(text, { at = Date.now() } = {}) {
    if (this.turn) this.closeTurn("unfinished");
    this.record({ t: "user", text, at });
    const article = h(
      "article",
      { class: "turn turn-user" },
      h("div", { class: "turn-head" }, bindText(h("span", { class: "who" }), "you"), timeEl(at)),
      h("div", { class: "bubble" }, text),
    );
    this.add(article);
    this.openTurn(at);
    this.scrollToEnd(true);
    return article;
  }

  /** Mark the latest user message as not delivered (the server rejected it). */
  rejectLastMessage(reason) {
    const last = [...this.container.querySelectorAll(".turn-user")].pop();
    if (last && !last.querySelector(".turn-note")) {
      last.append(bindText(h("div", { class: "turn-note error", role: "alert" }), "turn.not_sent", { reason }));
    }
    if (this.turn && !this.turn.body.children.length) {
      this.turn.article.remove();
      this.turn = null;
      this.updateEmpty();
    }
  }

  systemLine(key, args, kind = "info") {
    const line = h("div", { class: `sysline sysline-${kind}`, role: kind === "error" ? "alert" : null });
    line.append(h("span", { class: "sysline-text" }, icon(kind === "ok" ? "check" : kind === "info" ? "spark" : "alert", "icon icon-sm"), bindText(h("span"), key, args)));
    this.add(line);
    this.scrollToEnd();
    return line;
  }

  // -- agent turns ---------------------------------------------------------------------------

  openTurn(at = Date.now()) {
    const statusText = bindText(h("span"), "turn.thinking");
    const status = h("div", { class: "turn-status" }, h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), statusText);
    const body = h("div", { class: "turn-body" });
    const foot = h("div", { class: "turn-foot" });
    const article = h(
      "article",
      { class: "turn turn-agent", dataset: { state: "running" }, "aria-busy": "true" },
      h("div", { class: "turn-head" }, h("span", { class: "avatar", "aria-hidden": "true" }, icon("spark", "icon icon-sm")), h("span", { class: "who" }, this.agentName() || t("agent")), timeEl(at)),
      body,
      status,
      foot,
    );
    this.turn = { article, body, status, statusText, foot, textBlock: null, toolGroup: null, charts: null, groups: new Map() };
    this.add(article);
    return this.turn;
  }

  ensureTurn(frame) {
    return this.turn || this.openTurn(Date.parse(frame.timestamp) || Date.now());
  }

  setStatus(key, args) {
    if (this.turn) bindText(this.turn.statusText, key, args);
  }

  closeTurn(state, frame) {
    const turn = this.turn;
    if (!turn) return;
    this.turn = null;
    turn.article.dataset.state = state;
    turn.article.setAttribute("aria-busy", "false");
    turn.status.remove();
    for (const target of [turn, ...turn.groups.values()]) if (target.textBlock) this.settleText(target.textBlock);
    for (const card of turn.article.querySelectorAll('.tool[data-status="running"], .tool[data-status="awaiting"]')) {
      this.setToolStatus(card.card, "cancelled");
    }
    for (const group of turn.groups.values()) if (group.status === "running") this.setGroupStatus(group, "cancelled");
    const meta = frame?.metadata || {};
    const parts = [];
    if (state === "done") {
      if (typeof meta.steps === "number" && meta.steps > 0) parts.push(meta.steps === 1 ? ["turn.step"] : ["turn.steps", { n: meta.steps }]);
      const tokens = meta.usage?.total_tokens;
      if (typeof tokens === "number" && tokens > 0) parts.push(["turn.tokens", { n: tokens.toLocaleString() }]);
      if (typeof meta.duration_ms === "number") parts.push(["turn.duration", { s: (meta.duration_ms / 1000).toFixed(1) }]);
    } else if (state === "stopped") {
      const reason = meta.reason && meta.reason !== "user_cancel" ? meta.reason : null;
      parts.push(reason ? ["turn.stopped_reason", { reason }] : ["turn.stopped"]);
    } else if (state === "unfinished") {
      parts.push(["turn.unfinished"]);
    }
    parts.forEach(([key, args], index) => {
      if (index) turn.foot.append(h("span", { class: "sep", "aria-hidden": "true" }, "·"));
      turn.foot.append(bindText(h("span"), key, args));
    });
    if (!turn.body.children.length && state === "unfinished") turn.article.remove();
    this.updateEmpty();
  }

  // -- events --------------------------------------------------------------------------------

  handle(frame, { replaying = false } = {}) {
    const event = frame.event;
    if (typeof frame.seq === "number" && event !== AgentEvents.STATE_EXPORTED) this.record({ t: "ev", f: frame });
    if (ACTIVITY.has(event) || PIPELINE.test(event)) this.ensureTurn(frame);
    const target = ACTIVITY.has(event) ? this.targetFor(frame) : this.turn;
    const main = target === this.turn;
    switch (event) {
      case AgentEvents.THINKING:
        if (main) {
          const step = frame.metadata?.step;
          this.setStatus(step > 1 ? "turn.thinking_step" : "turn.thinking", { n: step });
        }
        break;
      case AgentEvents.PARTIAL_ANSWER:
        this.appendText(target, frame, replaying);
        break;
      case AgentEvents.RUN_RESUMED:
        this.dropStreamingText();
        break;
      case AgentEvents.TOOL_CALL:
        this.toolCall(target, frame);
        break;
      case AgentEvents.USER_CONFIRM:
        this.toolAwaiting(target, frame);
        break;
      case AgentEvents.TOOL_RESULT:
        this.toolResult(target, frame);
        break;
      case AgentEvents.FINAL_ANSWER:
        this.finalAnswer(frame);
        break;
      case AgentEvents.INTERRUPTED:
      case AgentEvents.SESSION_END:
        if (this.turn) this.closeTurn("stopped", frame);
        break;
      case AgentEvents.ERROR:
        this.runError(frame);
        break;
      case AgentEvents.STATE_RESTORED:
        this.restored(frame);
        break;
      default:
        if (PIPELINE.test(event)) this.pipeline(frame);
    }
    this.scrollToEnd();
  }

  /** The turn, or for a Plan & Solve sub-agent (metadata.origin) the group of its task. */
  targetFor(frame) {
    const meta = frame.metadata || {};
    if (!meta.origin) return this.turn;
    return this.group(meta.origin, meta.task_id, meta.agent);
  }

  group(origin, taskId, agent) {
    const turn = this.turn;
    const key = taskId !== undefined && taskId !== null ? `task:${taskId}` : `${origin}:${agent ?? ""}`;
    let group = turn.groups.get(key);
    if (group) return group;
    const title = h("span", { class: "group-title" });
    const badge = h("span", { class: "badge" });
    const body = h("div", { class: "group-body" });
    const details = h("details", { class: "group-activity", open: true }, h("summary", {}, h("span", { class: "task-dot", "aria-hidden": "true" }), title, badge), body);
    details.addEventListener("toggle", () => {
      if (details.open !== group.expectedOpen) group.userToggled = true;
      group.expectedOpen = details.open;
    });
    const charts = h("div", { class: "group-charts" });
    const section = h("section", { class: "task-group", dataset: { groupKey: key, status: "running" } }, details, charts);
    group = { key, taskId, origin, agent, section, details, title, badge, body, charts, textBlock: null, toolGroup: null, status: "running", userToggled: false, expectedOpen: true };
    turn.groups.set(key, group);
    this.renderGroupTitle(group);
    this.setGroupStatus(group, "running");
    turn.body.append(section);
    turn.toolGroup = null;
    if (turn.textBlock) this.settleText(turn.textBlock);
    turn.textBlock = null;
    return group;
  }

  renderGroupTitle(group) {
    if (group.taskId !== undefined && group.taskId !== null) {
      const name = this.taskTitles.get(String(group.taskId));
      bindText(group.title, name ? "chat.task_titled" : "tool.task", { id: group.taskId, title: name || "" });
    } else bindText(group.title, group.origin === "plan" ? "chat.planner" : "chat.worker", { agent: group.agent || "" });
  }

  setGroupStatus(group, status) {
    group.status = status;
    group.section.dataset.status = status;
    group.badge.dataset.status = status;
    bindText(group.badge, `plan.status.${status}`);
    if (status !== "running" && group.charts.children.length) this.openGroup(group, false); // charts stay visible
  }

  openGroup(group, open) {
    if (group.userToggled || group.details.open === open) return;
    group.expectedOpen = open;
    group.details.open = open;
  }

  // -- text ----------------------------------------------------------------------------------

  appendText(target, frame, replaying) {
    const key = textKey(frame);
    let block = target.textBlock;
    if (!block || block.key !== key || block.settled) {
      if (block) this.settleText(block);
      const element = h("div", { class: target === this.turn ? "answer streaming" : "answer answer-sub streaming", "aria-busy": "true" });
      block = { element, key, text: "", settled: false, frame: 0 };
      target.textBlock = block;
      target.toolGroup = null;
      target.body.append(element);
    }
    block.text += typeof frame.content === "string" ? frame.content : "";
    if (replaying) this.renderText(block);
    else if (!block.frame) {
      block.frame = requestAnimationFrame(() => {
        block.frame = 0;
        this.renderText(block);
        this.scrollToEnd();
      });
    }
  }

  /** Another server process goes on with the run: the text of the interrupted step is answered again. */
  dropStreamingText() {
    const block = this.turn?.textBlock;
    if (!block || block.settled) return;
    if (block.frame) cancelAnimationFrame(block.frame);
    block.element.remove();
    this.turn.textBlock = null;
  }

  renderText(block) {
    block.element.replaceChildren(renderMarkdown(block.text));
  }

  settleText(block) {
    if (block.frame) cancelAnimationFrame(block.frame);
    block.frame = 0;
    block.settled = true;
    this.renderText(block);
    block.element.classList.remove("streaming");
    block.element.setAttribute("aria-busy", "false");
  }

  finalAnswer(frame) {
    const turn = this.ensureTurn(frame);
    const text = typeof frame.content === "string" ? frame.content : prettyJson(frame.content);
    const block = turn.textBlock;
    if (block && turn.body.lastElementChild === block.element) {
      block.text = text; // the final text settles the streamed bubble
    } else if (text) {
      const element = h("div", { class: "answer" });
      turn.textBlock = { element, key: "final", text, settled: false, frame: 0 };
      turn.body.append(element);
    }
    this.closeTurn("done", frame);
  }

  runError(frame) {
    const turn = this.ensureTurn(frame);
    const code = frame.metadata?.error_code;
    turn.body.append(
      h(
        "div",
        { class: "alert alert-error", role: "alert" },
        icon("alert", "icon icon-sm"),
        h("div", {}, bindText(h("strong"), "turn.failed"), h("div", { class: "alert-text" }, String(frame.content ?? "")), code ? h("code", { class: "code-chip" }, code) : null),
      ),
    );
    this.closeTurn("failed", frame);
  }

  restored(frame) {
    const meta = frame.metadata || {};
    if (meta.reattached) this.systemLine("notice.reattached", {}, "ok");
    else this.systemLine("notice.restored", { n: meta.message_count ?? 0 }, "ok");
    for (const warning of meta.warnings || []) {
      this.add(h("div", { class: "sysline sysline-warn" }, h("span", { class: "sysline-text" }, icon("alert", "icon icon-sm"), h("span", {}, String(warning)))));
    }
  }

  // -- tool cards ----------------------------------------------------------------------------

  toolKey(frame) {
    const meta = frame.metadata || {};
    const call = meta.call_id || frame.step_id || `seq-${frame.seq}`;
    // Sub-agents of different tasks may reuse call ids: the task keeps them apart.
    return meta.origin ? `${meta.origin}:${meta.task_id ?? meta.agent ?? ""}:${call}` : call;
  }

  toolCall(target, frame) {
    const meta = frame.metadata || {};
    const card = this.tools.get(this.toolKey(frame)) || this.toolCard(target, this.toolKey(frame), toolName(meta));
    this.setArgs(card, toolArgs(meta));
    this.setToolStatus(card, meta.needs_confirmation ? "awaiting" : ToolStatuses.RUNNING);
    if (target === this.turn) this.setStatus(meta.needs_confirmation ? "turn.waiting_confirm" : "turn.thinking");
  }

  toolAwaiting(target, frame) {
    const meta = frame.metadata || {};
    if (meta.scope === "plan") {
      this.setStatus("turn.waiting_confirm");
      return;
    }
    const key = this.toolKey(frame);
    const card = this.tools.get(key) || this.toolCard(target, key, toolName(meta));
    if (card.args === undefined) this.setArgs(card, toolArgs(meta));
    this.setToolStatus(card, "awaiting");
    this.setStatus("turn.waiting_confirm");
  }

  toolResult(target, frame) {
    const meta = frame.metadata || {};
    const key = this.toolKey(frame);
    const card = this.tools.get(key) || this.toolCard(target, key, toolName(meta));
    const status = meta.status || ToolStatuses.SUCCESS;
    const succeeded = status === ToolStatuses.SUCCESS || status === "ok"; // "ok": an older saved transcript
    this.setToolStatus(card, status);
    if (typeof meta.duration_ms === "number") card.duration.textContent = formatDuration(meta.duration_ms);
    card.resultPre.textContent = typeof frame.content === "string" ? frame.content : prettyJson(frame.content);
    card.resultBox.hidden = false;
    if (meta.data !== undefined && meta.data !== null) {
      card.dataPre.textContent = prettyJson(meta.data);
      card.dataBox.hidden = false;
      const option = succeeded ? chartOption(meta.data, card.args) : null;
      if (option) this.chart(target, card, option, toolName(meta));
    }
    if (target === this.turn) this.setStatus("turn.thinking");
  }

  setArgs(card, args) {
    card.args = args;
    card.preview.textContent = argsPreview(args);
    card.argsPre.textContent = prettyJson(args ?? {});
  }

  toolCard(target, key, name) {
    if (!target.toolGroup) {
      if (target.textBlock) this.settleText(target.textBlock);
      target.textBlock = null;
      target.toolGroup = h("div", { class: "tools" });
      target.body.append(target.toolGroup);
    }
    const badge = h("span", { class: "badge" });
    const preview = h("span", { class: "tool-preview" });
    const duration = h("span", { class: "tool-duration" });
    const summary = h(
      "summary",
      {},
      h("span", { class: "tool-icon", "aria-hidden": "true" }, icon("tool", "icon icon-sm")),
      h("span", { class: "tool-name" }, name),
      preview,
      duration,
      badge,
    );
    bindAttr(summary, "title", "tool.expand", { name });
    const argsPre = h("pre", { class: "code" });
    const resultPre = h("pre", { class: "code" });
    const dataPre = h("pre", { class: "code code-data" });
    const resultBox = h("div", { class: "tool-section", hidden: true }, bindText(h("h4"), "tool.result"), resultPre);
    const dataBox = h("div", { class: "tool-section", hidden: true }, bindText(h("h4"), "tool.data"), dataPre);
    const element = h(
      "details",
      { class: "tool", dataset: { callId: key, status: "running" } },
      summary,
      h("div", { class: "tool-body" }, h("div", { class: "tool-section" }, bindText(h("h4"), "tool.arguments"), argsPre), resultBox, dataBox),
    );
    const wrapper = h("div", { class: "tool-item" }, element);
    target.toolGroup.append(wrapper);
    const card = { element, wrapper, badge, preview, duration, argsPre, resultPre, dataPre, resultBox, dataBox, args: undefined };
    element.card = card;
    this.tools.set(key, card);
    return card;
  }

  setToolStatus(card, status) {
    card.element.dataset.status = status;
    card.badge.dataset.status = status;
    if (TOOL_STATUSES.has(status)) bindText(card.badge, `tool.${status}`);
    else {
      delete card.badge.dataset.i18n;
      card.badge.textContent = status;
    }
  }

  chart(target, card, option, toolName) {
    const title = chartTitle(option) || toolName || "chart";
    const canvasBox = h("div", { class: "chart", role: "img" });
    bindAttr(canvasBox, "aria-label", "chart.label", { title });
    const download = h("button", { type: "button", class: "btn btn-ghost btn-xs" }, icon("download", "icon icon-sm"), bindText(h("span"), "chart.download"));
    bindAttr(download, "aria-label", "chart.download_label");
    const figure = h(
      "figure",
      { class: "chart-card" },
      h("figcaption", {}, h("span", { class: "chart-title" }, icon("chart", "icon icon-sm"), h("span", {}, title)), download),
      canvasBox,
    );
    (target === this.turn ? card.wrapper : target.charts).append(figure);
    drawChart(canvasBox, option)
      .then((chart) => {
        download.addEventListener("click", () => {
          const link = h("a", { href: chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" }), download: `${title}.png` });
          document.body.append(link);
          link.click();
          link.remove();
        });
      })
      .catch((error) => {
        console.error("myagent: chart failed", error);
        canvasBox.replaceChildren(bindText(h("p", { class: "chart-error" }), "chart.failed", { error: String(error?.message || error) }));
      });
  }

  // -- Plan & Solve milestones ---------------------------------------------------------------

  pipeline(frame) {
    const turn = this.turn;
    const content = isPlainObject(frame.content) ? frame.content : {};
    const task = isPlainObject(content.task) ? content.task : null;
    const taskId = frame.metadata?.task_id ?? task?.id;
    if (task?.title && taskId !== undefined) this.taskTitles.set(String(taskId), String(task.title));
    let line = null;
    switch (frame.event) {
      case PlanEvents.START:
        this.setStatus("plan.line.planning");
        break;
      case PlanEvents.COMPLETED: {
        const tasks = Array.isArray(content.tasks) ? content.tasks : [];
        for (const item of tasks) if (isPlainObject(item) && item.id !== undefined) this.taskTitles.set(String(item.id), String(item.title ?? ""));
        line = ["plan.line.planned", { n: tasks.length }, "step"];
        break;
      }
      case PlanEvents.CANCELLED:
        line = ["plan.line.cancelled", {}, "warn"];
        break;
      case PlanEvents.COERCION_ERROR:
        line = ["plan.line.coercion", { error: content.error || (typeof frame.content === "string" ? frame.content : "") }, "error"];
        break;
      case SolverEvents.START:
      case SolverEvents.RESTARTED: {
        if (taskId === undefined) break;
        const group = this.group("solver", taskId);
        this.renderGroupTitle(group);
        this.setGroupStatus(group, "running");
        this.openGroup(group, true);
        this.setStatus("plan.line.task", { id: taskId, title: this.taskTitles.get(String(taskId)) || "", status: { $t: "plan.status.running" } });
        break;
      }
      case SolverEvents.COMPLETED:
      case SolverEvents.FAILED:
      case SolverEvents.CANCELLED: {
        if (taskId === undefined) break;
        const status = frame.event.split(".")[1];
        const group = this.group("solver", taskId);
        this.renderGroupTitle(group);
        if (group.textBlock) this.settleText(group.textBlock);
        if (status === "failed" && content.error) group.body.append(h("p", { class: "task-error" }, String(content.error)));
        this.setGroupStatus(group, status);
        break;
      }
      case AggregateEvents.START:
        this.setStatus("plan.line.aggregating");
        break;
      case PipelineEvents.COMPLETED:
        line = ["plan.line.done", { completed: count(content.completed), failed: count(content.failed), cancelled: count(content.cancelled) }, "ok"];
        break;
      default:
    }
    if (!line) return;
    const [key, args, kind] = line;
    turn.body.append(h("div", { class: `stepline stepline-${kind}` }, h("span", { class: "stepline-dot", "aria-hidden": "true" }), bindText(h("span"), key, args)));
    turn.toolGroup = null;
    if (turn.textBlock) this.settleText(turn.textBlock);
    turn.textBlock = null;
  }

  // -- scrolling -----------------------------------------------------------------------------

  scrollToEnd(force = false) {
    if (!force && !this.stick) return;
    this.container.scrollTop = this.container.scrollHeight;
    this.stick = true;
  }
}

function textKey(frame) {
  const meta = frame.metadata || {};
  return `${meta.origin ?? ""}:${meta.task_id ?? meta.agent ?? ""}:${meta.step ?? 0}`;
}

function count(value) {
  if (Array.isArray(value)) return value.length;
  return typeof value === "number" ? value : 0;
}

function timeEl(at) {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return null;
  return h("time", { datetime: date.toISOString() }, formatClock(date));
}

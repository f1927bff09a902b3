// The console: wires the protocol client to the conversation, the confirmation dialog, the plan panel,
// the session panel (saved signed state) and the connection indicator.

import { AgentClient, websocketUrl } from "./client.js";
import { ChatView } from "./chat.js";
import { ConfirmDialog } from "./confirm.js";
import { downloadText, h, icon } from "./dom.js";
import { applyLanguage, bindAttr, bindText, formatTime, language, setLanguage, t } from "./i18n.js";
import { PlanView } from "./plan.js";
import * as storage from "./storage.js";
import { AgentEvents, NoticeActions, SystemEvents, UserEvents, closesRun, isRequestError } from "./protocol.js";

const $ = (id) => document.getElementById(id);
const RUN_ACTIVITY = /^(plan|solver|aggregate)\.|^agent\.(thinking|tool_call|tool_result|partial_answer|user_confirm)$/;
const CONTROLS = new Set([UserEvents.CANCEL_TASK, UserEvents.RESTART_TASK, UserEvents.CANCEL_PLAN, UserEvents.REPLAN]);

class Console {
  constructor() {
    this.el = {
      app: $("app"),
      transcript: $("transcript"),
      composer: $("composer"),
      input: $("input"),
      send: $("send"),
      stop: $("stop"),
      conn: $("conn"),
      connText: $("conn-text"),
      connRetry: $("conn-retry"),
      banner: $("banner-area"),
      agentInfo: $("agent-info"),
      agentName: $("agent-name"),
      agentDesc: $("agent-desc"),
      emptyAgent: $("empty-agent"),
      runState: $("run-state"),
      sessionId: $("session-id"),
      copySession: $("copy-session"),
      sessionAgent: $("session-agent"),
      newSession: $("new-session"),
      save: $("save-state"),
      restore: $("restore-state"),
      exportState: $("export-state"),
      importState: $("import-state"),
      autosave: $("autosave"),
      savedInfo: $("saved-info"),
      serverInfo: $("server-info"),
      side: $("side"),
      panelToggle: $("panel-toggle"),
      lang: $("lang-toggle"),
      toasts: $("toasts"),
    };
    this.agent = { name: "", description: "" };
    this.running = false;
    this.cancelling = false;
    this.pendingMessage = null;
    this.saveRequests = []; // "auto" | "manual" | "export", in the order the states were requested
    this.settings = storage.loadSettings();
    this.wasOnline = false;
    this.connectionLost = false;
    this.hasSaved = false;
    this.client = new AgentClient(websocketUrl(window.location));
    this.chat = new ChatView(this.el.transcript, { agentName: () => this.agent.name });
    this.confirm = new ConfirmDialog($("confirm-dialog"), {
      answer: (stepId, content) => {
        if (!this.client.ready || !this.client.sendToSession(UserEvents.RESPONSE, { step_id: stepId, content })) return false;
        if (content.confirmed && Array.isArray(content.tasks)) {
          this.plan.acceptEdited(content.tasks);
          this.chat.records.push({ t: "plan", tasks: content.tasks }); // so a restore shows the edited plan
        }
        return true;
      },
      replan: () => this.control(UserEvents.REPLAN),
    });
    this.plan = new PlanView($("plan-panel"), { control: (event, content) => this.control(event, content) });
  }

  start() {
    for (const element of document.querySelectorAll("[data-icon]")) element.prepend(icon(element.dataset.icon, "icon icon-sm"));
    applyLanguage();
    this.bindUi();
    this.bindClient();
    const saved = storage.loadSaved();
    if (saved) this.offerRestore(saved);
    else this.client.createSession();
    this.renderSaved(saved);
    this.client.start();
    this.updateControls();
    this.el.input.focus();
  }

  // -- UI --------------------------------------------------------------------------------------

  bindUi() {
    const { el } = this;
    el.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    el.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    el.input.addEventListener("input", () => this.autosize());
    el.stop.addEventListener("click", () => this.cancelRun());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.defaultPrevented && !this.confirm.isOpen && this.running) {
        event.preventDefault();
        this.cancelRun();
      }
    });
    el.connRetry.addEventListener("click", () => this.client.retryNow());
    el.lang.addEventListener("click", () => setLanguage(language() === "zh" ? "en" : "zh"));
    el.panelToggle.addEventListener("click", () => {
      const open = el.app.classList.toggle("side-open");
      el.panelToggle.setAttribute("aria-expanded", String(open));
    });
    el.newSession.addEventListener("click", () => this.newSession());
    el.save.addEventListener("click", () => this.requestState("manual"));
    el.restore.addEventListener("click", () => {
      const saved = storage.loadSaved();
      if (saved) this.restore(saved);
    });
    el.exportState.addEventListener("click", () => this.requestState("export"));
    el.importState.addEventListener("change", () => this.importFile());
    el.autosave.checked = this.settings.autosave;
    el.autosave.addEventListener("change", () => {
      this.settings.autosave = el.autosave.checked;
      storage.saveSettings(this.settings);
    });
    el.copySession.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(this.client.session?.id ?? "");
        this.toast("notice.copied");
      } catch {
        // clipboard not available (insecure origin): the id is selectable text
      }
    });
    document.addEventListener("languagechange", () => {
      this.renderConnection();
      this.renderSaved(storage.loadSaved());
    });
  }

  autosize() {
    const input = this.el.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  submit() {
    const text = this.el.input.value.trim();
    if (!text || this.running || !this.client.connected) return;
    this.hideBanner("offer");
    if (!this.client.session && !this.client.pending) this.client.createSession();
    this.el.input.value = "";
    this.autosize();
    this.chat.userMessage(text);
    this.running = true;
    if (this.client.ready) this.client.sendToSession(UserEvents.MESSAGE, { content: text });
    else this.pendingMessage = text;
    this.updateControls();
  }

  cancelRun() {
    if (!this.running || this.cancelling) return;
    if (this.pendingMessage !== null) {
      // never sent: nothing to cancel on the server
      this.pendingMessage = null;
      this.chat.closeTurn("stopped");
      this.running = false;
    } else if (this.client.ready && this.client.sendToSession(UserEvents.CANCEL)) {
      this.cancelling = true;
    }
    this.updateControls();
  }

  control(event, content) {
    if (!this.client.ready) return false;
    return this.client.sendToSession(event, content === undefined ? {} : { content });
  }

  newSession() {
    if (this.running) return;
    this.hideBanner();
    this.client.closeSession();
    this.resetViews();
    this.client.createSession();
    this.updateControls();
    this.el.input.focus();
  }

  resetViews() {
    this.saveRequests = [];
    this.chat.clear();
    this.plan.reset();
    this.confirm.clear();
    this.running = false;
    this.cancelling = false;
    this.pendingMessage = null;
  }

  updateControls() {
    const { el, client } = this;
    const connected = client.connected;
    el.send.hidden = this.running;
    el.stop.hidden = !this.running;
    el.send.disabled = !connected;
    el.stop.disabled = this.cancelling || (!client.ready && this.pendingMessage === null);
    el.composer.classList.toggle("offline", !connected);
    const ready = client.ready;
    el.newSession.disabled = this.running || !connected;
    el.save.disabled = !ready;
    el.exportState.disabled = !ready;
    el.restore.disabled = this.running || !connected || !this.hasSaved;
    el.importState.disabled = this.running || !connected;
    el.runState.dataset.state = this.running ? "running" : "idle";
    bindText(el.runState, this.running ? "session.running" : "session.idle");
    const session = client.session;
    el.sessionId.textContent = session?.id ?? "—";
    el.sessionId.title = session?.id ?? "";
    el.copySession.hidden = !session;
    this.confirm.setOnline(ready);
  }

  // -- connection indicator --------------------------------------------------------------------

  renderConnection(detail) {
    const { el, client } = this;
    const state = client.state;
    el.conn.dataset.state = state;
    el.connRetry.hidden = state !== "reconnecting" || client.ws !== null;
    clearInterval(this.countdown);
    if (state === "online") bindText(el.connText, "conn.online");
    else if (state === "connecting") bindText(el.connText, "conn.connecting");
    else {
      const tick = () => {
        const left = Math.ceil((client.retryAt - Date.now()) / 1000);
        if (client.ws || left <= 0) bindText(el.connText, "conn.reconnecting_now");
        else bindText(el.connText, "conn.reconnecting", { s: left });
      };
      tick();
      this.countdown = setInterval(tick, 500);
    }
    if (detail && state === "reconnecting" && this.wasOnline && client.session) {
      this.chat.systemLine("conn.lost_line", {}, "warn");
      this.connectionLost = true;
    }
    if (state === "online") this.wasOnline = true;
    else if (detail && state === "reconnecting") this.wasOnline = false;
  }

  // -- client events ---------------------------------------------------------------------------

  bindClient() {
    const { client } = this;
    client.addEventListener("status", (event) => {
      this.renderConnection(event.detail);
      this.updateControls();
    });
    client.addEventListener("session", () => {
      const session = client.session;
      if (session?.attached && this.pendingMessage !== null) {
        const text = this.pendingMessage;
        this.pendingMessage = null;
        client.sendToSession(UserEvents.MESSAGE, { content: text });
      }
      this.updateControls();
    });
    client.addEventListener("frame", (event) => this.onFrame(event.detail.frame));
    client.addEventListener("replayed", (event) => {
      // The run ended while we were away and its closing event was not retained: settle the turn.
      if (event.detail.busy === false && this.running) {
        this.running = false;
        this.cancelling = false;
        this.chat.closeTurn("unfinished");
        this.updateControls();
      }
    });
    client.addEventListener("lost", () => {
      this.sessionGone();
      this.showBanner("lost", "banner.lost", {}, "warn", this.lostActions());
    });
    client.addEventListener("ended", (event) => {
      this.sessionGone();
      this.showBanner("ended", "banner.ended", { reason: event.detail.reason }, "warn", this.lostActions());
    });
    client.addEventListener("restore-failed", (event) => {
      this.sessionGone();
      const reason = event.detail.code || event.detail.message;
      this.chat.systemLine("notice.restore_failed", { reason }, "error");
      this.showBanner("lost", "notice.restore_failed", { reason }, "error", [
        { key: "banner.new", primary: true, run: () => this.newSession() },
        { key: "banner.discard", run: () => this.discardSaved() },
      ]);
    });
  }

  lostActions() {
    const saved = storage.loadSaved();
    const actions = [];
    if (saved) actions.push({ key: "banner.lost_restore", primary: true, run: () => this.restore(storage.loadSaved()) });
    actions.push({ key: "banner.new", primary: !saved, run: () => this.newSession() });
    return actions;
  }

  sessionGone() {
    if (this.running) this.chat.closeTurn("stopped");
    this.running = false;
    this.cancelling = false;
    this.pendingMessage = null;
    this.confirm.clear();
    this.updateControls();
  }

  onFrame(frame) {
    const meta = frame.metadata || {};
    const sequenced = typeof frame.seq === "number";
    if (sequenced) {
      this.chat.handle(frame);
      this.plan.handle(frame);
      this.confirm.handle(frame);
    }
    switch (frame.event) {
      case SystemEvents.CONNECTED:
        this.el.serverInfo.textContent = `myagent ${meta.server_version ?? ""} · protocol ${meta.protocol_version ?? ""}`;
        break;
      case AgentEvents.SESSION_CREATED:
        this.setAgent(meta.agent_name, meta.agent_description);
        this.hideBanner();
        break;
      case AgentEvents.STATE_RESTORED:
        if (meta.agent_name) this.setAgent(meta.agent_name, this.agent.description);
        this.hideBanner();
        if (meta.pending_calls > 0) this.running = true;
        break;
      case AgentEvents.STATE_EXPORTED:
        this.stateExported(frame);
        break;
      case SystemEvents.NOTICE:
        this.notice(frame);
        break;
      default:
    }
    // A request error (system.error, or agent.error without seq) about a rejected frame; it ends no run.
    if (isRequestError(frame)) this.systemError(frame);
    if (closesRun(frame)) {
      this.running = false;
      this.cancelling = false;
      if (this.settings.autosave && frame.event !== AgentEvents.ERROR) this.requestState("auto");
    } else if (sequenced && !this.running && RUN_ACTIVITY.test(frame.event)) {
      this.running = true; // a run we did not start here: a restart, a re-plan, restored pending calls
    }
    this.updateControls();
  }

  notice(frame) {
    const meta = frame.metadata || {};
    this.plan.handle(frame);
    if (meta.action === NoticeActions.RECONNECT) {
      const replayed = Number(meta.replay_count) || 0;
      if (this.connectionLost) this.chat.systemLine(replayed ? "conn.back_line_replayed" : "conn.back_line", { n: replayed }, "ok");
      this.connectionLost = false;
      if (meta.busy === true) this.running = true;
      this.hideBanner("taken");
    } else if (meta.action === NoticeActions.SESSION_TAKEN_OVER) {
      this.showBanner("taken", "banner.taken", {}, "warn", [{ key: "banner.take_back", primary: true, run: () => this.client.takeBack() }]);
    } else if (meta.ok === false) {
      this.toast("notice.control_failed", { action: meta.action ?? "", message: frame.content ?? "" }, "error");
    }
  }

  systemError(frame) {
    const meta = frame.metadata || {};
    const request = meta.request_event;
    const code = meta.error_code;
    const message = String(frame.content ?? code ?? "");
    if (code === "REPLAY_GAP") {
      const details = meta.details || {};
      this.chat.systemLine("notice.replay_gap", { from: details.missing_from_seq, to: details.missing_to_seq }, "warn");
      return;
    }
    if (request === UserEvents.MESSAGE) {
      this.chat.rejectLastMessage(code === "SESSION_BUSY" ? message : message);
      this.running = false;
      this.pendingMessage = null;
      return;
    }
    if (request === UserEvents.CANCEL) {
      this.cancelling = false;
      if (code === "NO_ACTIVE_RUN") this.running = false;
      return;
    }
    if (request === UserEvents.ACK || request === UserEvents.RECONNECT || request === UserEvents.RECONNECT_WITH_STATE) return;
    if (request === UserEvents.REQUEST_STATE) this.saveRequests.shift();
    if (CONTROLS.has(request)) this.plan.controlFailed();
    this.toast("notice.error", { message: code ? `${message} (${code})` : message }, "error");
  }

  setAgent(name, description) {
    this.agent = { name: name || "", description: description || "" };
    const { el } = this;
    el.agentInfo.hidden = !name;
    el.agentName.textContent = name || "";
    el.agentDesc.textContent = description || "";
    el.sessionAgent.textContent = name || "—";
    el.emptyAgent.hidden = !description;
    el.emptyAgent.textContent = description ? `${name} · ${description}` : "";
    document.title = name ? `${name} · myagent` : "myagent console";
  }

  // -- saved state -----------------------------------------------------------------------------

  requestState(kind) {
    if (!this.client.ready) return;
    if (this.client.sendToSession(UserEvents.REQUEST_STATE)) this.saveRequests.push(kind);
  }

  stateExported(frame) {
    const kind = this.saveRequests.shift();
    if (!kind) return; // not asked for here (another window of this session, or a replay)
    const meta = frame.metadata || {};
    const session = this.client.session;
    const record = {
      signed_state: meta.signed_state,
      saved_at: Date.now(),
      session_id: session?.id ?? frame.session_id,
      agent_name: this.agent.name,
      agent_description: this.agent.description,
      message_count: meta.message_count ?? 0,
      encrypted: Boolean(meta.encrypted),
      last_event_id: frame.event_id,
      last_seq: frame.seq,
      transcript: meta.encrypted ? null : this.chat.records,
    };
    const result = storage.store(record);
    this.renderSaved(storage.loadSaved());
    if (kind === "export") {
      const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      downloadText(`myagent-session-${stamp}.json`, JSON.stringify({ format: 1, ...record }, null, 2));
    } else if (kind === "manual") {
      if (result === "full") this.toast("notice.saved", {}, "ok");
      else if (result === "without-transcript") this.toast("notice.saved_no_transcript", {}, "warn");
    }
    if (result === "failed") this.toast("notice.error", { message: "localStorage" }, "error");
  }

  renderSaved(saved) {
    this.hasSaved = Boolean(saved);
    const el = this.el.savedInfo;
    if (!saved) {
      bindText(el, "session.nothing_saved");
      return;
    }
    bindText(el, "session.saved_at", { time: formatTime(new Date(saved.saved_at)), n: saved.message_count ?? 0 });
    if (saved.encrypted) el.append(" · ", bindText(h("span"), "session.saved_encrypted"));
  }

  offerRestore(saved) {
    this.showBanner("offer", "banner.offer", { time: formatTime(new Date(saved.saved_at)), n: saved.message_count ?? 0 }, "info", [
      { key: "banner.restore", primary: true, run: () => this.restore(saved) },
      {
        key: "banner.new",
        run: () => {
          this.hideBanner();
          this.client.createSession();
          this.el.input.focus();
        },
      },
      { key: "banner.discard", run: () => this.discardSaved() },
    ]);
  }

  discardSaved() {
    storage.discard();
    this.renderSaved(null);
    this.hideBanner();
    if (!this.client.session && !this.client.pending) this.client.createSession();
    this.updateControls();
  }

  restore(saved) {
    if (!saved) return;
    this.hideBanner();
    if (this.client.session && this.client.session.attached && this.client.connected) {
      // Leave the current session without closing it: the saved state may be this very session.
      this.client.forgetSession();
    }
    this.resetViews();
    if (saved.agent_name) this.setAgent(saved.agent_name, saved.agent_description);
    let position = null;
    if (Array.isArray(saved.transcript)) {
      this.chat.load(saved.transcript);
      for (const item of saved.transcript) {
        if (item.t === "ev" && item.f) this.plan.handle(item.f);
        else if (item.t === "plan" && Array.isArray(item.tasks)) this.plan.acceptEdited(item.tasks);
      }
      position = { sessionId: saved.session_id, lastSeq: saved.last_seq, lastEventId: saved.last_event_id };
    } else if (saved.encrypted) {
      this.chat.systemLine("notice.encrypted_transcript", {}, "info");
    }
    this.client.restore(saved.signed_state, position);
    this.updateControls();
    this.el.input.focus();
  }

  async importFile() {
    const input = this.el.importState;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    try {
      const saved = storage.fromFile(await file.text());
      storage.store(saved);
      this.renderSaved(storage.loadSaved());
      this.restore(saved);
    } catch {
      this.toast("notice.import_failed", {}, "error");
    }
  }

  // -- banners and toasts ----------------------------------------------------------------------

  showBanner(id, key, args, kind, actions) {
    this.hideBanner();
    const text = bindText(h("span", { class: "banner-text" }), key, args);
    const buttons = actions.map((action) => {
      const button = h("button", { type: "button", class: `btn btn-sm ${action.primary ? "btn-primary" : "btn-ghost"}` });
      bindText(button, action.key);
      button.addEventListener("click", () => action.run());
      return button;
    });
    const dismiss = h("button", { type: "button", class: "btn btn-ghost btn-icon", onclick: () => this.hideBanner() }, icon("cross", "icon icon-sm"));
    bindAttr(dismiss, "aria-label", "banner.dismiss");
    const banner = h("div", { class: `banner banner-${kind}`, role: kind === "error" ? "alert" : "region", dataset: { banner: id } }, icon(kind === "info" ? "restore" : "alert", "icon"), text, h("div", { class: "banner-actions" }, buttons), dismiss);
    bindAttr(banner, "aria-label", key, args);
    this.el.banner.append(banner);
  }

  hideBanner(id) {
    for (const banner of this.el.banner.querySelectorAll(".banner")) {
      if (!id || banner.dataset.banner === id) banner.remove();
    }
  }

  toast(key, args = {}, kind = "info") {
    const toast = h("div", { class: `toast toast-${kind}` }, icon(kind === "ok" ? "check" : kind === "error" ? "alert" : "spark", "icon icon-sm"), h("span", {}, t(key, args)));
    this.el.toasts.append(toast);
    setTimeout(() => toast.classList.add("leaving"), 3800);
    setTimeout(() => toast.remove(), 4200);
  }
}

const app = new Console();
window.myagentConsole = app; // for diagnostics in the browser's developer tools
app.start();

// The console: wires `@myagent/client` (vendored, static/vendor/myagent-client) to the conversation,
// the confirmation dialog, the plan panel, the session panel (saved signed state) and the connection
// indicator. The client does the protocol (connection, resume, restore, de-duplication, ACKs, request
// errors); this file only decides what the page shows and which client call a control makes.

import {
  AgentClient,
  AgentEvents,
  ClientProtocolError,
  NoticeActions,
  RunLostError,
  SessionClosedError,
  SystemEvents,
  UserEvents,
  closesRun,
  isRequestError,
} from "../vendor/myagent-client/index.js";
import { ChatView } from "./chat.js";
import { ConfirmDialog } from "./confirm.js";
import { ConnectionIndicator } from "./connection.js";
import { downloadText, h, icon } from "./dom.js";
import { applyLanguage, bindAttr, bindText, formatTime, language, setLanguage, t } from "./i18n.js";
import { PlanView } from "./plan.js";
import { SavedState } from "./saved.js";

const $ = (id) => document.getElementById(id);
const RUN_ACTIVITY = /^(plan|solver|aggregate)\.|^agent\.(thinking|tool_call|tool_result|partial_answer|user_confirm)$/;
const LOST_CODES = new Set(["SESSION_NOT_FOUND", "INVALID_RESUME_TOKEN"]);

/** `ws(s)://<this host>/ws`: the console talks to the server that served it. */
export function websocketUrl(location) {
  const url = new URL("../ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.toString();
}

class Console {
  constructor() {
    this.el = {
      app: $("app"),
      transcript: $("transcript"),
      composer: $("composer"),
      input: $("input"),
      send: $("send"),
      stop: $("stop"),
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
      serverInfo: $("server-info"),
      side: $("side"),
      panelToggle: $("panel-toggle"),
      lang: $("lang-toggle"),
      toasts: $("toasts"),
    };
    this.agent = { name: "", description: "" };
    this.saved = new SavedState(
      { info: $("saved-info"), autosave: $("autosave") },
      { session: () => this.session, agent: () => this.agent, records: () => this.chat.records, toast: (...args) => this.toast(...args), changed: () => this.updateControls() },
    );
    this.session = null; // the client's Session this page follows
    this.unfollow = null;
    this.opening = false; // a create or restore is on its way
    this.running = false;
    this.cancelling = false;
    this.pendingMessage = null; // typed before the session existed
    this.connectionLost = false; // the connection dropped while a session was shown
    this.client = new AgentClient(websocketUrl(window.location), {
      initialBackoff: 400,
      maxBackoff: 15_000,
      maxReconnectAttempts: null, // a page keeps trying; the indicator says so
      stateStore: this.saved,
    });
    this.connection = new ConnectionIndicator(this.client, { conn: $("conn"), text: $("conn-text"), retry: $("conn-retry") });
    this.chat = new ChatView(this.el.transcript, { agentName: () => this.agent.name });
    this.confirm = new ConfirmDialog($("confirm-dialog"), {
      answer: (stepId, content) => this.answer(stepId, content),
      isAnswered: (stepId) => Boolean(this.session?.isAnswered(stepId)),
      replan: () => this.control((session) => session.replan()),
    });
    this.plan = new PlanView($("plan-panel"), {
      cancelTask: (id) => this.control((session) => session.cancelTask(id)),
      restartTask: (id) => this.control((session) => session.restartTask(id)),
      cancelPlan: () => this.control((session) => session.cancelPlan()),
      replan: (question) => this.control((session) => session.replan(question)),
    });
  }

  start() {
    for (const element of document.querySelectorAll("[data-icon]")) element.prepend(icon(element.dataset.icon, "icon icon-sm"));
    applyLanguage();
    this.bindUi();
    this.bindClient();
    this.saved.render();
    const saved = this.saved.record;
    if (saved) this.offerRestore(saved);
    else this.createSession();
    this.connection.start();
    this.updateControls();
    this.el.input.focus();
  }

  /** Connected, and following a session that takes requests. */
  get ready() {
    return this.client.connected && this.session !== null && !this.session.closed;
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
    el.lang.addEventListener("click", () => setLanguage(language() === "zh" ? "en" : "zh"));
    el.panelToggle.addEventListener("click", () => {
      const open = el.app.classList.toggle("side-open");
      el.panelToggle.setAttribute("aria-expanded", String(open));
    });
    el.newSession.addEventListener("click", () => this.newSession());
    el.save.addEventListener("click", () => this.saveState("manual"));
    el.restore.addEventListener("click", () => this.restore(this.saved.record));
    el.exportState.addEventListener("click", () => this.saveState("export"));
    el.importState.addEventListener("change", () => this.importFile());
    el.copySession.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(this.session?.sessionId ?? "");
        this.toast("notice.copied");
      } catch {
        // clipboard not available (insecure origin): the id is selectable text
      }
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
    if (!this.session && !this.opening) this.createSession();
    this.el.input.value = "";
    this.autosize();
    this.chat.userMessage(text);
    this.running = true;
    if (this.ready) this.sendMessage(text);
    else this.pendingMessage = text;
    this.updateControls();
  }

  /** Send a message; its events reach the page through the session's subscription, this only watches the run's end. */
  async sendMessage(text) {
    try {
      for await (const event of this.session.send(text)) void event;
    } catch (error) {
      if (error instanceof RunLostError && this.running) {
        // The run ended while we were away and its closing event was not retained: settle the turn.
        this.settleRun("unfinished");
      } else if (error instanceof ClientProtocolError && error.local) {
        this.chat.rejectLastMessage(error.detail);
        this.settleRun(null);
      }
      // Errors from the server are events of the session (handled in onEvent); a closed session in sessionClosed.
    }
  }

  settleRun(turnState) {
    if (turnState) this.chat.closeTurn(turnState);
    this.running = false;
    this.cancelling = false;
    this.updateControls();
  }

  cancelRun() {
    if (!this.running || this.cancelling) return;
    if (this.pendingMessage !== null) {
      this.pendingMessage = null; // never sent: nothing to cancel on the server
      this.settleRun("stopped");
      return;
    }
    if (!this.ready) return;
    this.cancelling = true;
    this.session.cancel().then(
      (stopped) => {
        if (!stopped) this.settleRun(null); // the server had no run: nothing to wait for
      },
      (error) => this.requestFailed(error),
    );
    this.updateControls();
  }

  answer(stepId, content) {
    if (!this.ready) return false;
    const { confirmed, ...options } = content;
    this.session.confirm(stepId, confirmed, options).catch((error) => this.requestFailed(error));
    if (confirmed && Array.isArray(options.tasks)) {
      this.plan.acceptEdited(options.tasks);
      this.chat.records.push({ t: "plan", tasks: options.tasks }); // so a restore shows the edited plan
    }
    return true;
  }

  /** A plan control (`session => promise of ok`); false when it cannot be sent now. */
  control(call) {
    if (!this.ready) return false;
    call(this.session).then(
      (ok) => ok || this.plan.controlFailed(), // the notice with ok: false says why (see notice())
      (error) => {
        this.plan.controlFailed();
        this.requestFailed(error);
      },
    );
    return true;
  }

  newSession() {
    if (this.running) return;
    this.hideBanner();
    const previous = this.session;
    this.leaveSession();
    previous?.close().catch(() => undefined); // it may already be gone on the server: nothing to show
    this.resetViews();
    this.createSession();
    this.updateControls();
    this.el.input.focus();
  }

  resetViews() {
    this.chat.clear();
    this.plan.reset();
    this.confirm.clear();
    this.running = false;
    this.cancelling = false;
    this.pendingMessage = null;
  }

  updateControls() {
    const { el } = this;
    const connected = this.client.connected;
    const ready = this.ready;
    el.send.hidden = this.running;
    el.stop.hidden = !this.running;
    el.send.disabled = !connected;
    el.stop.disabled = this.cancelling || (!ready && this.pendingMessage === null);
    el.composer.classList.toggle("offline", !connected);
    el.newSession.disabled = this.running || !connected;
    el.save.disabled = !ready;
    el.exportState.disabled = !ready;
    el.restore.disabled = this.running || !connected || !this.saved.has;
    el.importState.disabled = this.running || !connected;
    el.runState.dataset.state = this.running ? "running" : "idle";
    bindText(el.runState, this.running ? "session.running" : "session.idle");
    const id = this.session?.sessionId;
    el.sessionId.textContent = id ?? "—";
    el.sessionId.title = id ?? "";
    el.copySession.hidden = !id;
    this.confirm.setOnline(ready);
  }

  // -- the client --------------------------------------------------------------------------------

  bindClient() {
    this.client.on("status", (change) => {
      if (change.status === "open") {
        this.connectionLost = false; // said "Connection restored" with the resume's notice, if there was one
        const info = this.client.serverInfo;
        this.el.serverInfo.textContent = `myagent ${info.server_version ?? ""} · protocol ${info.protocol_version ?? ""}`;
      } else if (change.status === "reconnecting" && change.attempt === 1 && this.session) {
        this.chat.systemLine("conn.lost_line", {}, "warn");
        this.connectionLost = true;
      }
      this.updateControls();
    });
    this.client.on("error", (error) => {
      if (error instanceof ClientProtocolError) this.requestFailed(error); // about a frame of no session
      else console.error("myagent console:", error); // a bug of this page, reported by the client
    });
  }

  createSession() {
    if (this.opening) return;
    this.opening = true;
    this.client.createSession().then(
      (session) => this.follow(session),
      (error) => {
        this.opening = false;
        if (this.pendingMessage !== null) {
          this.pendingMessage = null; // it waited for this session: it was never sent
          this.chat.rejectLastMessage(error instanceof ClientProtocolError ? error.code : String(error?.message ?? error));
          this.settleRun(null);
        }
        this.requestFailed(error);
      },
    );
  }

  /** Show `session` from now on (its replayed events first). */
  follow(session) {
    this.leaveSession();
    this.opening = false;
    this.session = session;
    const offs = [
      session.subscribe((event) => this.onEvent(event)),
      session.on("closed", ({ reason }) => this.sessionClosed(session, reason)),
      session.on("restored", () => this.updateControls()),
    ];
    this.unfollow = () => offs.forEach((off) => off());
    if (session.created) this.onEvent(session.created); // the answer to create/restore: not a subscriber's event
    if (this.pendingMessage !== null) {
      const text = this.pendingMessage;
      this.pendingMessage = null;
      this.sendMessage(text);
    }
    this.updateControls();
  }

  /** Stop following the current session (it stays open on the server). */
  leaveSession() {
    this.unfollow?.();
    this.unfollow = null;
    this.session = null;
  }

  sessionClosed(session, reason) {
    if (session !== this.session) return;
    this.sessionGone();
    if (reason === "taken_over") return; // the notice already put up its banner; the session id stays for "Use it here"
    this.leaveSession();
    this.updateControls();
    if (LOST_CODES.has(reason)) this.showBanner("lost", "banner.lost", {}, "warn", this.lostActions());
    else this.showBanner("ended", "banner.ended", { reason }, "warn", this.lostActions());
  }

  /**
   * Take the session back from the window that took it over. That window's resume spent our token, so
   * the saved state re-attaches it (the server checks it); without one, the token is tried all the same.
   */
  takeBack() {
    const previous = this.session;
    if (!previous || !this.client.connected || this.opening) return;
    const state = this.saved.load(previous.sessionId);
    const position = previous.lastEventId ? { lastEventId: previous.lastEventId } : {};
    const reattach = state
      ? this.client.restoreSession(state, position)
      : this.client.resumeSession(previous.sessionId, previous.resumeToken, { lastSeq: previous.lastSeq });
    this.opening = true;
    reattach.then(
      (session) => {
        this.hideBanner("taken");
        this.follow(session);
      },
      (error) => {
        this.opening = false;
        this.requestFailed(error);
      },
    );
  }

  lostActions() {
    const saved = this.saved.record;
    const actions = [];
    if (saved) actions.push({ key: "banner.lost_restore", primary: true, run: () => this.restore(this.saved.record) });
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

  onEvent(frame) {
    const meta = frame.metadata || {};
    const sequenced = typeof frame.seq === "number";
    if (sequenced) {
      this.chat.handle(frame);
      this.plan.handle(frame);
      this.confirm.handle(frame);
    }
    switch (frame.event) {
      case AgentEvents.SESSION_CREATED:
        this.setAgent(meta.agent_name, meta.agent_description);
        this.hideBanner();
        break;
      case AgentEvents.STATE_RESTORED:
        if (meta.agent_name) this.setAgent(meta.agent_name, this.agent.description);
        this.hideBanner();
        if (meta.pending_calls > 0) this.running = true;
        break;
      case SystemEvents.NOTICE:
        this.notice(frame);
        break;
      default:
    }
    // A request error (system.error, or agent.error without seq) about a rejected frame; it ends no run.
    if (isRequestError(frame)) this.requestError(frame);
    if (closesRun(frame)) {
      this.running = false;
      this.cancelling = false;
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
      this.showBanner("taken", "banner.taken", {}, "warn", [{ key: "banner.take_back", primary: true, run: () => this.takeBack() }]);
    } else if (meta.ok === false) {
      this.toast("notice.control_failed", { action: meta.action ?? "", message: frame.content ?? "" }, "error");
    }
  }

  /** An error frame about a request sent without waiting for its answer (a message, a confirmation...). */
  requestError(frame) {
    const meta = frame.metadata || {};
    const code = meta.error_code;
    const message = String(frame.content ?? code ?? "");
    if (code === "REPLAY_GAP") {
      const details = meta.details || {};
      this.chat.systemLine("notice.replay_gap", { from: details.missing_from_seq, to: details.missing_to_seq }, "warn");
      return;
    }
    if (meta.request_event === UserEvents.MESSAGE) {
      this.chat.rejectLastMessage(message);
      this.running = false;
      this.pendingMessage = null;
      return;
    }
    this.toast("notice.error", { message: code ? `${message} (${code})` : message }, "error");
  }

  /** A request the client waited for failed: say why (a closed session says it with its banner). */
  requestFailed(error) {
    this.cancelling = false;
    if (error instanceof ClientProtocolError) {
      const text = error.detail || error.code;
      this.toast("notice.error", { message: `${text} (${error.code})` }, "error");
    } else if (!(error instanceof SessionClosedError)) {
      // (a request cut short by its session's end says nothing new: the session's banner says it)
      this.toast("notice.error", { message: String(error?.message ?? error) }, "error");
    }
    this.updateControls();
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

  /** Save or Export (`kind` "manual" or "export"). */
  saveState(kind) {
    if (this.ready) this.saved.request(this.session, kind).catch((error) => this.requestFailed(error));
  }

  offerRestore(saved) {
    const time = formatTime(new Date(saved.saved_at));
    const counted = typeof saved.message_count === "number";
    this.showBanner("offer", counted ? "banner.offer" : "banner.offer_time", { time, n: saved.message_count }, "info", [
      { key: "banner.restore", primary: true, run: () => this.restore(saved) },
      {
        key: "banner.new",
        run: () => {
          this.hideBanner();
          this.createSession();
          this.el.input.focus();
        },
      },
      { key: "banner.discard", run: () => this.discardSaved() },
    ]);
  }

  discardSaved() {
    this.saved.discard();
    this.hideBanner();
    if (!this.session && !this.opening) this.createSession();
    this.updateControls();
  }

  restore(saved) {
    if (!saved || this.opening) return;
    this.hideBanner();
    const current = this.session;
    const options = {};
    if (current && !current.closed && current.sessionId === saved.session_id) {
      // The live session on screen: the server checks the state and re-attaches the session as it is now.
      if (current.lastEventId) options.lastEventId = current.lastEventId;
    } else {
      this.leaveSession();
      current?.close().catch(() => undefined); // no way back to it from this page once another is restored
      this.showSaved(saved, options);
    }
    this.opening = true;
    this.client.restoreSession(saved.signed_state, options).then(
      (session) => this.follow(session),
      (error) => {
        this.opening = false;
        this.restoreFailed(error);
      },
    );
    this.updateControls();
    this.el.input.focus();
  }

  /** Put a saved conversation on screen; `options.lastEventId` continues it with what the server replays. */
  showSaved(saved, options) {
    this.resetViews();
    if (saved.agent_name) this.setAgent(saved.agent_name, saved.agent_description);
    if (Array.isArray(saved.transcript)) {
      this.chat.load(saved.transcript);
      for (const item of saved.transcript) {
        if (item.t === "ev" && item.f) this.plan.handle(item.f);
        else if (item.t === "plan" && Array.isArray(item.tasks)) this.plan.acceptEdited(item.tasks);
      }
      if (saved.last_event_id) options.lastEventId = saved.last_event_id;
    } else if (saved.encrypted) {
      this.chat.systemLine("notice.encrypted_transcript", {}, "info");
    }
  }

  restoreFailed(error) {
    if (!this.session) this.sessionGone(); // else the live session it was about goes on
    const reason = error instanceof ClientProtocolError ? error.code : String(error?.message ?? error);
    this.chat.systemLine("notice.restore_failed", { reason }, "error");
    this.showBanner("lost", "notice.restore_failed", { reason }, "error", [
      { key: "banner.new", primary: true, run: () => this.newSession() },
      { key: "banner.discard", run: () => this.discardSaved() },
    ]);
  }

  async importFile() {
    const input = this.el.importState;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    try {
      this.restore(this.saved.importText(await file.text()));
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

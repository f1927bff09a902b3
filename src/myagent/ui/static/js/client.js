// The protocol client: one WebSocket, one session, reliable delivery (docs/protocol.md).
//
// * reconnects by itself with exponential backoff and jitter, and on `online`;
// * re-attaches the session with `user.reconnect` (resume_token + last_event_id);
// * drops replayed or repeated events by event_id (and seq), so each reaches the UI once;
// * acknowledges what it has processed with a throttled `user.ack`;
// * watches the server's heartbeats and reconnects when they stop.
//
// Events (EventTarget): "status" {state, retryIn}, "frame" {frame, replayed}, "session" {session},
// "lost" {reason, code}, "restore-failed" {code, message}, "ended" {reason}.

import { AgentEvents, NoticeActions, SystemEvents, UserEvents, isRequestError } from "./protocol.js";

const BACKOFF_FIRST_MS = 400;
const BACKOFF_MAX_MS = 15_000;
const ACK_EVERY_MS = 1_000;
const SEEN_LIMIT = 5_000;

export const LOST_CODES = new Set(["SESSION_NOT_FOUND", "INVALID_RESUME_TOKEN"]);

export function websocketUrl(location) {
  const url = new URL("../ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.toString();
}

export class AgentClient extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.state = "connecting"; // connecting | online | reconnecting
    this.attempt = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.watchdog = null;
    this.heartbeatInterval = 0;
    this.connectionId = null;
    this.serverVersion = null;
    /** {id, token, lastSeq, lastEventId, attached, agentName, agentDescription} */
    this.session = null;
    /** null | {kind: "create"} | {kind: "restore", signedState, lastEventId} */
    this.pending = null;
    this.seen = new Set();
    this.ackTimer = null;
    this.ackedEventId = null;
    this.stats = { duplicates: 0, reconnects: 0 };
    this.replay = null; // {sessionId, left, busy} while a resume's replay arrives
    this.onlineListener = () => this.retryNow();
  }

  start() {
    window.addEventListener("online", this.onlineListener);
    this.open();
  }

  // -- connection ----------------------------------------------------------------------------

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      console.warn("myagent: cannot open WebSocket", error);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.setState(this.attempt === 0 && !this.session ? "connecting" : "reconnecting", 0);
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      this.kickWatchdog();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame && typeof frame.event === "string") this.receive(frame);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearTimeout(this.watchdog);
      if (this.session) this.session.attached = false;
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      // onclose follows and schedules the retry
    };
  }

  scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting", delay);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Skip the rest of the backoff wait. */
  retryNow() {
    if (this.ws || this.state === "online") return;
    this.open();
  }

  /** For tests and diagnostics: drop the socket as if the network failed. */
  dropConnection() {
    this.ws?.close(4000, "client dropped the connection");
  }

  setState(state, retryIn) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, retryIn } }));
  }

  kickWatchdog() {
    clearTimeout(this.watchdog);
    if (this.heartbeatInterval > 0) {
      const limit = this.heartbeatInterval * 2500 + 5000;
      this.watchdog = setTimeout(() => {
        console.warn("myagent: no heartbeat from the server; reconnecting");
        this.ws?.close(4000, "heartbeat timeout");
      }, limit);
    }
  }

  get connected() {
    return this.state === "online" && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Whether the session can take requests now (connected and attached here). */
  get ready() {
    return this.connected && Boolean(this.session?.attached);
  }

  send(event, fields = {}) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ event, ...fields }));
    return true;
  }

  sendToSession(event, fields = {}) {
    if (!this.session) return false;
    return this.send(event, { session_id: this.session.id, ...fields });
  }

  // -- session -------------------------------------------------------------------------------

  createSession() {
    this.pending = { kind: "create" };
    if (this.connected) this.send(UserEvents.CREATE_SESSION, { content: "console" });
  }

  /** Restore from a saved signed state; `position` is {sessionId, lastSeq, lastEventId} of the saved transcript. */
  restore(signedState, position) {
    this.pending = { kind: "restore", signedState, lastEventId: position?.lastEventId ?? null };
    // Events the original session replays (when it is still alive) continue the saved position.
    this.session = position?.sessionId
      ? {
          id: position.sessionId,
          token: null,
          lastSeq: position.lastSeq ?? 0,
          lastEventId: position.lastEventId ?? null,
          attached: false,
        }
      : null;
    this.dispatchEvent(new CustomEvent("session", { detail: { session: this.session } }));
    if (this.connected) this.sendRestore();
  }

  sendRestore() {
    const content = { signed_state: this.pending.signedState };
    if (this.pending.lastEventId) content.last_event_id = this.pending.lastEventId;
    this.send(UserEvents.RECONNECT_WITH_STATE, { content });
  }

  sendReconnect() {
    const s = this.session;
    const content = { resume_token: s.token };
    if (s.lastEventId) content.last_event_id = s.lastEventId;
    else content.last_seq = 0;
    this.send(UserEvents.RECONNECT, { session_id: s.id, content });
  }

  /** Take the session back from another connection that took it over. */
  takeBack() {
    if (this.session?.token && this.connected) this.sendReconnect();
  }

  closeSession() {
    if (this.session && this.connected && this.session.attached) this.sendToSession(UserEvents.CLOSE_SESSION);
    this.forgetSession();
  }

  forgetSession() {
    this.session = null;
    this.pending = null;
    this.ackedEventId = null;
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.dispatchEvent(new CustomEvent("session", { detail: { session: null } }));
  }

  // -- receiving -----------------------------------------------------------------------------

  receive(frame) {
    if (frame.event === SystemEvents.CONNECTED) {
      this.onConnected(frame);
      return;
    }
    if (typeof frame.seq === "number" && typeof frame.event_id === "string") {
      this.receiveSequenced(frame);
      return;
    }
    this.receiveSystem(frame);
  }

  onConnected(frame) {
    const meta = frame.metadata || {};
    this.connectionId = meta.connection_id;
    this.serverVersion = meta.server_version;
    this.heartbeatInterval = Number(meta.heartbeat_interval) || 0;
    if (this.attempt > 0) this.stats.reconnects += 1;
    this.attempt = 0;
    this.setState("online", 0);
    this.kickWatchdog();
    this.dispatchEvent(new CustomEvent("frame", { detail: { frame, replayed: false } }));
    if (this.pending?.kind === "restore") this.sendRestore();
    else if (this.session?.token) this.sendReconnect();
    else if (this.pending?.kind === "create") this.send(UserEvents.CREATE_SESSION, { content: "console" });
  }

  receiveSequenced(frame) {
    if (this.replay && frame.session_id === this.replay.sessionId) {
      this.replay.left -= 1; // counted before de-duplication: the server's count includes copies
      if (this.replay.left <= 0) queueMicrotask(() => this.finishReplay());
    }
    let session = this.session;
    if (!session || frame.session_id !== session.id) {
      const adopt =
        (this.pending?.kind === "create" && frame.event === AgentEvents.SESSION_CREATED) ||
        (this.pending?.kind === "restore" && frame.event === AgentEvents.STATE_RESTORED);
      if (!adopt) return; // an event of a session this page does not follow
      session = {
        id: frame.session_id,
        token: frame.metadata?.resume_token ?? null,
        lastSeq: 0,
        lastEventId: null,
        attached: true,
      };
      this.session = session;
      this.pending = null;
      this.ackedEventId = null;
      this.dispatchEvent(new CustomEvent("session", { detail: { session } }));
    }
    if (this.seen.has(frame.event_id) || frame.seq <= session.lastSeq) {
      this.stats.duplicates += 1;
      return;
    }
    this.remember(frame.event_id);
    session.lastSeq = frame.seq;
    session.lastEventId = frame.event_id;
    if (frame.event === AgentEvents.STATE_RESTORED) {
      // Re-attached original session (new sessions were adopted above).
      session.token = frame.metadata?.resume_token ?? session.token;
      session.attached = true;
      this.pending = null;
      this.dispatchEvent(new CustomEvent("session", { detail: { session } }));
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { frame, replayed: false } }));
    if (frame.event === AgentEvents.SESSION_END) {
      this.dispatchEvent(new CustomEvent("ended", { detail: { reason: frame.metadata?.reason ?? "closed" } }));
      this.forgetSession();
      return;
    }
    this.scheduleAck();
  }

  receiveSystem(frame) {
    const meta = frame.metadata || {};
    const session = this.session;
    let replayStarts = false;
    if (frame.event === SystemEvents.NOTICE && meta.action === NoticeActions.RECONNECT && session && frame.session_id === session.id) {
      session.attached = true;
      if (typeof meta.resume_token === "string" && meta.resume_token) session.token = meta.resume_token; // the old one is spent
      this.replay = { sessionId: session.id, left: Number(meta.replay_count) || 0, busy: meta.busy };
      replayStarts = true;
      this.dispatchEvent(new CustomEvent("session", { detail: { session } }));
    }
    if (frame.event === SystemEvents.NOTICE && meta.action === NoticeActions.SESSION_TAKEN_OVER && session) {
      session.attached = false;
      this.dispatchEvent(new CustomEvent("session", { detail: { session } }));
    }
    if (isRequestError(frame)) {
      const code = meta.error_code;
      if (meta.request_event === UserEvents.RECONNECT && LOST_CODES.has(code)) {
        this.forgetSession();
        this.dispatchEvent(new CustomEvent("lost", { detail: { code, message: frame.content } }));
      } else if (meta.request_event === UserEvents.RECONNECT_WITH_STATE) {
        this.forgetSession();
        this.dispatchEvent(new CustomEvent("restore-failed", { detail: { code, message: frame.content } }));
      } else if (meta.request_event === UserEvents.CREATE_SESSION) {
        this.pending = null;
      }
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { frame, replayed: false } }));
    if (replayStarts && this.replay.left <= 0) this.finishReplay();
  }

  /** Every event the server replayed after a resume has arrived. */
  finishReplay() {
    const replay = this.replay;
    if (!replay) return;
    this.replay = null;
    this.dispatchEvent(new CustomEvent("replayed", { detail: { busy: replay.busy } }));
  }

  remember(eventId) {
    this.seen.add(eventId);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.values().next().value;
      this.seen.delete(oldest);
    }
  }

  // -- acknowledgements ----------------------------------------------------------------------

  scheduleAck() {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.flushAck();
    }, ACK_EVERY_MS);
  }

  flushAck() {
    const session = this.session;
    if (!session?.attached || !session.lastEventId || session.lastEventId === this.ackedEventId) return;
    if (this.sendToSession(UserEvents.ACK, { content: { last_event_id: session.lastEventId } })) {
      this.ackedEventId = session.lastEventId;
    }
  }
}

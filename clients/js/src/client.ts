/**
 * `AgentClient`: one WebSocket connection, any number of sessions.
 *
 * Every frame is routed to its session by `session_id`. Throttled `user.ack` frames acknowledge what
 * was received. When the connection drops the client reconnects with exponential backoff and jitter,
 * re-attaches every session with `user.reconnect` (its resume token and last event id) and, when the
 * server no longer knows a session, restores it from its signed state. Mirrors `myagent.client`.
 */
import type { ServerEvent } from "./generated/events.js";
import { AgentEvents, SystemEvents, UserEvents, isRequestError, parseEventId } from "./generated/protocol.js";
import { Emitter } from "./emitter.js";
import {
  AuthenticationError,
  ClientConnectionError,
  ClientError,
  ClientProtocolError,
  ConnectionLostError,
  RequestTimeoutError,
  SessionClosedError,
} from "./errors.js";
import { eventMetadata, eventSessionId, parseFrame } from "./frames.js";
import type { AgentClientOptions, ClientEvents, ConnectionStatus, StatusChange } from "./options.js";
import type { ConfirmCallback } from "./run.js";
import { Session, type SessionHost } from "./session.js";
import type { SignedState } from "./state-store.js";
import { globalWebSocket, OPEN, type SocketLike } from "./transport.js";

export type { AgentClientOptions, ClientEvents, ConnectionStatus, StatusChange, TokenSource } from "./options.js";

interface Link {
  ws: SocketLike;
  generation: number;
  phase: "greeting" | "authenticating" | "ready";
  lost: boolean;
  /** `dropConnection()` was called: frames still buffered in the socket count as lost with it. */
  dropped: boolean;
  onLost: Array<() => void>;
  greeted: { resolve: () => void; reject: (error: ClientError) => void };
  watchdog: ReturnType<typeof setTimeout> | undefined;
  error: string;
}

interface OpenRequest {
  request: string;
  frame: Record<string, unknown>;
  resolve: (session: Session) => void;
  reject: (error: unknown) => void;
  target: Session | null;
  generation: number;
}

interface Outgoing {
  frame: Record<string, unknown>;
  session: Session | undefined;
  resolve: (generation: number) => void;
  reject: (error: unknown) => void;
}

class LinkLostError extends ClientConnectionError {}

export class AgentClient implements SessionHost {
  readonly url: string;
  readonly confirm: ConfirmCallback | undefined;
  readonly requestTimeout: number;
  /** `metadata` of the server's `system.connected` greeting. */
  serverInfo: Record<string, unknown> = {};
  connectionId: string | null = null;
  /** Connections re-established after a loss. */
  reconnects = 0;
  status: ConnectionStatus = "idle";
  /** @internal */ generation = 0;

  private readonly options: AgentClientOptions;
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly sessionsById = new Map<string, Session>();
  private readonly opening: OpenRequest[] = [];
  private readonly orphans = new Map<string, ServerEvent[]>();
  private outbox: Outgoing[] = [];
  private link: Link | null = null;
  private ready = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private failure: ClientError | null = null;
  private closing = false;
  private reconnecting = false;
  private wake: (() => void) | null = null;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private ackDue = false;
  private connecting: Promise<void> | null = null;
  private authWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(url: string, options: AgentClientOptions = {}) {
    this.url = url;
    this.options = options;
    this.confirm = options.confirm;
    this.requestTimeout = options.requestTimeout ?? 60_000;
  }

  // -- public API -------------------------------------------------------------------------------

  get connected(): boolean {
    return this.ready && this.link !== null && this.failure === null;
  }

  get sessions(): Session[] {
    return [...this.sessionsById.values()];
  }

  /** Listen to `status`, `event` or `error`; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /** Open the connection; rejects with `ClientConnectionError` (`AuthenticationError` for refused credentials). */
  connect(): Promise<void> {
    if (this.connecting === null) {
      this.connecting = this.firstConnect().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async firstConnect(): Promise<void> {
    if (this.closing) throw new ClientConnectionError("the client is closed");
    if (this.link !== null) return this.waitLink().then(() => undefined);
    this.setStatus({ status: "connecting", attempt: 0 });
    try {
      await this.openLink();
    } catch (error) {
      const why = error instanceof ClientError ? error : new ClientConnectionError(String(error));
      this.setStatus({ status: "closed", attempt: 0, error: why });
      throw why;
    }
    this.becomeReady();
  }

  /** Acknowledge what was received and close the connection; sessions stay resumable on the server. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const link = this.link;
    if (link !== null && this.ready) this.sendAcks(link);
    clearTimeout(this.ackTimer);
    this.wake?.();
    if (link !== null) {
      clearTimeout(link.watchdog);
      link.ws.close(1000, "client closed");
    }
    this.giveUp(new ClientConnectionError("the client is closed"));
  }

  /**
   * Present a fresh token on the open connection (`user.authenticate`), before the current one expires;
   * without an argument it is taken from the `token` option. Resolves when the server accepted it.
   */
  async authenticate(token?: string): Promise<void> {
    const link = await this.waitLink();
    const source = this.options.token;
    const fresh = token ?? (typeof source === "function" ? await source() : source);
    if (fresh === undefined) throw new ClientConnectionError("no token to present");
    const accepted = new Promise<void>((resolve, reject) => this.authWaiters.push({ resolve, reject }));
    this.sendOn(link, { event: UserEvents.AUTHENTICATE, content: { token: fresh } });
    await this.onLink(accepted, link);
  }

  /** Skip the rest of the backoff pause while reconnecting (e.g. on the browser's `online` event). */
  retryNow(): void {
    this.wake?.();
  }

  /** For tests and diagnostics: drop the socket as a network failure would (the client reconnects). */
  dropConnection(): void {
    const link = this.link;
    if (link === null) return;
    link.dropped = true;
    const ws = link.ws;
    if (typeof ws.terminate === "function") ws.terminate();
    else ws.close(4000, "dropped by the client");
  }

  /** Create a session on the server (`user.create_session` → `agent.session_created`). */
  createSession(): Promise<Session> {
    return this.openSession(UserEvents.CREATE_SESSION, { event: UserEvents.CREATE_SESSION });
  }

  /**
   * Continue a conversation from a signed state (`user.reconnect_with_state`): usually a new session
   * (new id and token) holding the saved conversation; the original one if it is still alive here.
   */
  async restoreSession(signedState: SignedState, options: { lastEventId?: string } = {}): Promise<Session> {
    const frame: Record<string, unknown> = { event: UserEvents.RECONNECT_WITH_STATE, signed_state: signedState };
    if (options.lastEventId !== undefined) frame["last_event_id"] = options.lastEventId;
    const session = await this.openSession(UserEvents.RECONNECT_WITH_STATE, frame);
    session.signedState = signedState;
    return session;
  }

  /**
   * Attach a session created elsewhere (an earlier page or process) and replay what came after
   * `lastSeq`; its subscribers get the replay. With `signedState`, a session the server no longer
   * knows is restored instead.
   */
  async resumeSession(
    sessionId: string,
    resumeToken: string,
    options: { lastSeq?: number; lastEventId?: string; signedState?: SignedState } = {},
  ): Promise<Session> {
    let lastSeq = options.lastSeq ?? 0;
    if (options.lastEventId !== undefined) lastSeq = parseEventId(options.lastEventId)?.[1] ?? 0;
    const existing = this.sessionsById.get(sessionId);
    if (existing !== undefined) return existing;
    const session = new Session(this, sessionId, resumeToken, lastSeq);
    session.signedState = options.signedState ?? null;
    this.sessionsById.set(sessionId, session);
    try {
      const link = await this.waitLink();
      await this.reattach(session, link);
    } catch (error) {
      if (!(error instanceof LinkLostError)) {
        this.forget(session);
        throw error;
      }
      await this.waitLink(); // the reconnect loop re-attached it (or failed it)
      session.checkUsable();
    }
    await session.whenReplayed();
    session.checkUsable();
    session.handedOver();
    return session;
  }

  // -- sending (SessionHost) -------------------------------------------------------------------

  /** @internal Queue `frame`; resolves with the generation of the connection it went out on. */
  enqueue(frame: Record<string, unknown>, session?: Session): Promise<number> {
    try {
      this.checkUsable();
      session?.checkUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.outbox.push({ frame, session, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    const link = this.link;
    if (!this.ready || link === null) return;
    const items = this.outbox;
    this.outbox = [];
    for (const item of items) {
      if (item.session !== undefined) {
        try {
          item.session.checkUsable();
        } catch (error) {
          item.reject(error);
          continue;
        }
        item.frame["session_id"] = item.session.sessionId; // a restore may have changed it
      }
      this.sendOn(link, item.frame);
      item.resolve(link.generation);
    }
  }

  private sendOn(link: Link, frame: Record<string, unknown>): void {
    if (link.ws.readyState === OPEN) link.ws.send(JSON.stringify(frame));
  }

  /** @internal */
  checkUsable(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** @internal */
  announce(session: Session, event: ServerEvent): void {
    this.report(this.emitter.emit("event", { session, event }));
  }

  /** @internal */
  afterFinalAnswer(session: Session): void {
    if (this.options.stateStore !== undefined) {
      this.spawn(session.exportState());
    }
  }

  /** @internal */
  async saveState(sessionId: string, state: SignedState): Promise<void> {
    await this.options.stateStore?.save(sessionId, state);
  }

  /** @internal */
  canRestore(session: Session): boolean {
    return this.options.reconnect !== false && (session.signedState !== null || this.options.stateStore !== undefined);
  }

  /** @internal */
  forget(session: Session): void {
    if (this.sessionsById.get(session.sessionId) === session) this.sessionsById.delete(session.sessionId);
  }

  /** @internal A background promise: its failure is reported, never unhandled. */
  spawn(work: Promise<unknown>): void {
    work.catch((error: unknown) => {
      if (!(error instanceof ClientConnectionError)) this.report([error]);
    });
  }

  private report(errors: unknown[]): void {
    for (const error of errors) {
      if (this.emitter.has("error")) this.emitter.emit("error", error);
    }
  }

  // -- acknowledgements ------------------------------------------------------------------------

  /** @internal Acknowledge now, then at most once per `ackInterval`. */
  wantAck(): void {
    if (this.ackTimer !== undefined || !this.ready || this.link === null) {
      this.ackDue = true;
      return;
    }
    this.ackDue = false;
    this.sendAcks(this.link);
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (this.ackDue) this.wantAck();
    }, this.options.ackInterval ?? 200);
  }

  private sendAcks(link: Link): void {
    for (const session of this.sessionsById.values()) {
      if (session.lastSeq > session.ackedSeq && !session.closed) {
        session.ackedSeq = session.lastSeq;
        this.sendOn(link, { event: UserEvents.ACK, session_id: session.sessionId, last_event_id: session.lastEventId });
      }
    }
  }

  // -- opening sessions ------------------------------------------------------------------------

  private async openSession(request: string, frame: Record<string, unknown>): Promise<Session> {
    return new Promise<Session>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const pending: OpenRequest = {
        request,
        frame,
        target: null,
        generation: 0,
        resolve: (session) => {
          clearTimeout(timer);
          resolve(session);
        },
        reject: (error) => {
          clearTimeout(timer);
          this.dropOpening(pending);
          reject(error);
        },
      };
      if (this.requestTimeout > 0) {
        timer = setTimeout(
          () => pending.reject(new RequestTimeoutError(`no answer to ${request} from the server`)),
          this.requestTimeout,
        );
      }
      this.opening.push(pending);
      this.enqueue(frame).then(
        (generation) => {
          pending.generation = generation;
        },
        (error: unknown) => pending.reject(error),
      );
    });
  }

  private dropOpening(request: OpenRequest): void {
    const index = this.opening.indexOf(request);
    if (index >= 0) this.opening.splice(index, 1);
    if (!this.opening.some((r) => r.request === UserEvents.RECONNECT_WITH_STATE)) this.orphans.clear();
  }

  /** The answer to a pending create/restore request: bind it to its `Session`. */
  private bindOpened(event: ServerEvent): boolean {
    const created = event.event === AgentEvents.SESSION_CREATED;
    const wanted = created ? UserEvents.CREATE_SESSION : UserEvents.RECONNECT_WITH_STATE;
    const request = this.opening.find((r) => r.request === wanted);
    const sid = eventSessionId(event);
    if (request === undefined || sid === undefined) return false;
    this.dropOpening(request);
    const token = eventMetadata(event)["resume_token"];
    let session: Session;
    if (request.target !== null) {
      session = request.target; // an automatic restore: the same Session object goes on
      this.forget(session);
      this.sessionsById.set(sid, session);
      session.restored(event, { deliver: true });
    } else {
      session = this.sessionsById.get(sid) ?? new Session(this, sid, typeof token === "string" ? token : "");
      this.sessionsById.set(sid, session);
      const orphans = this.orphans.get(sid) ?? [];
      this.orphans.delete(sid);
      for (const frame of orphans) this.route(frame);
      if (created) session.receiveEvent(event, { consumed: true });
      else session.restored(event, { deliver: false });
    }
    session.created = event;
    if (request.target === null) session.handedOver();
    request.resolve(session);
    return true;
  }

  // -- receiving -------------------------------------------------------------------------------

  private route(event: ServerEvent): void {
    const name = event.event;
    if (name === SystemEvents.HEARTBEAT || name === SystemEvents.CONNECTED) return;
    if ((name === AgentEvents.SESSION_CREATED || name === AgentEvents.STATE_RESTORED) && this.bindOpened(event)) return;
    const sid = eventSessionId(event);
    const session = sid === undefined ? undefined : this.sessionsById.get(sid);
    if (session === undefined) {
      if (sid !== undefined && this.opening.some((r) => r.request === UserEvents.RECONNECT_WITH_STATE)) {
        const list = this.orphans.get(sid) ?? []; // a re-attach replays before agent.state_restored
        list.push(event);
        this.orphans.set(sid, list);
      } else if (isRequestError(event)) {
        this.routeUnownedError(event);
      }
      return;
    }
    if (isRequestError(event)) session.receiveError(event);
    else if (name === SystemEvents.NOTICE) session.receiveNotice(event);
    else session.receiveEvent(event);
  }

  private routeUnownedError(event: ServerEvent): void {
    const error = ClientProtocolError.fromEvent(event);
    const opening = this.opening.find((r) => r.request === error.requestEvent && r.target === null);
    if (opening !== undefined) {
      opening.reject(error);
      return;
    }
    // Frames the server rejects while validating them carry no session id: attribute the error
    // when exactly one session waits for an answer to that kind of request.
    const request = error.requestEvent;
    const candidates = request === undefined ? [] : this.sessions.filter((s) => s.expects(request));
    if (candidates.length === 1) candidates[0]?.receiveError(event);
    else this.report([error]);
  }

  private receive(link: Link, data: unknown): void {
    if (link !== this.link || link.dropped) return;
    this.kickWatchdog(link);
    const frame = parseFrame(data);
    if (frame === null) return;
    if (link.phase === "greeting") {
      this.greet(link, frame);
      return;
    }
    if (link.phase === "authenticating") {
      const meta = eventMetadata(frame);
      if (frame.event === SystemEvents.NOTICE && meta["action"] === "authenticate") {
        link.phase = "ready";
        link.greeted.resolve();
        return;
      }
      if (isRequestError(frame) && meta["request_event"] === UserEvents.AUTHENTICATE) {
        link.phase = "ready"; // NOT_SUPPORTED: this server does not use authentication
        link.greeted.resolve();
        return;
      }
    }
    if (this.answersAuthentication(frame)) return;
    try {
      this.route(frame);
    } catch (error) {
      this.report([error]); // a bug in routing must not end the connection
    }
  }

  /** The answer to `authenticate()`: the `authenticate` notice, or an error about `user.authenticate`. */
  private answersAuthentication(frame: ServerEvent): boolean {
    const meta = eventMetadata(frame);
    const waiter = this.authWaiters[0];
    if (waiter === undefined) return false;
    if (frame.event === SystemEvents.NOTICE && meta["action"] === "authenticate") {
      this.authWaiters.shift();
      waiter.resolve();
      return true;
    }
    if (isRequestError(frame) && meta["request_event"] === UserEvents.AUTHENTICATE) {
      this.authWaiters.shift();
      waiter.reject(ClientProtocolError.fromEvent(frame));
      return true;
    }
    return false;
  }

  private greet(link: Link, frame: ServerEvent): void {
    if (frame.event !== SystemEvents.CONNECTED) {
      link.greeted.reject(new ClientConnectionError(`${this.url} did not greet with ${SystemEvents.CONNECTED}`));
      link.ws.close(1002, "no greeting");
      return;
    }
    this.serverInfo = eventMetadata(frame);
    const id = this.serverInfo["connection_id"];
    this.connectionId = typeof id === "string" ? id : null;
    this.kickWatchdog(link);
    if (link.phase === "greeting" && this.frameToken !== undefined) {
      link.phase = "authenticating";
      this.sendOn(link, { event: UserEvents.AUTHENTICATE, content: { token: this.frameToken } });
      return;
    }
    link.phase = "ready";
    link.greeted.resolve();
  }

  private frameToken: string | undefined;

  // -- connection lifecycle --------------------------------------------------------------------

  private async openLink(): Promise<Link> {
    const Socket = this.options.WebSocket ?? globalWebSocket();
    if (Socket === undefined) {
      const hint = "pass options.WebSocket or use @myagent/client/node";
      throw new ClientConnectionError(`no WebSocket implementation: ${hint}`);
    }
    const source = this.options.token;
    const token = typeof source === "function" ? await source() : source;
    const header = token !== undefined && (this.options.authMode ?? "frame") === "header";
    this.frameToken = header ? undefined : token;
    const ws = header
      ? new Socket(this.url, undefined, { headers: { Authorization: `Bearer ${token}` } })
      : new Socket(this.url);
    this.generation += 1;
    let greeted!: Link["greeted"];
    const done = new Promise<void>((resolve, reject) => {
      greeted = { resolve, reject };
    });
    const link: Link = {
      ws,
      generation: this.generation,
      phase: "greeting",
      lost: false,
      dropped: false,
      onLost: [],
      greeted,
      watchdog: undefined,
      error: "",
    };
    this.link = link;
    const timer = setTimeout(() => {
      link.greeted.reject(new ClientConnectionError(`no greeting from ${this.url} within the open timeout`));
      ws.close(1000, "open timeout");
    }, this.options.openTimeout ?? 10_000);
    ws.onmessage = (message) => this.receive(link, message.data);
    ws.onerror = (event) => {
      const message = (event as { message?: unknown }).message;
      if (typeof message === "string") link.error = message;
    };
    ws.onclose = (event) => this.onClose(link, event.code);
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  private onClose(link: Link, code: number): void {
    link.lost = true;
    clearTimeout(link.watchdog);
    for (const callback of link.onLost.splice(0)) callback();
    if (link.phase !== "ready") link.greeted.reject(this.openFailure(link, code));
    if (link !== this.link) return;
    this.link = null;
    this.ready = false;
    if (this.closing || this.failure !== null || link.phase !== "ready") return;
    if (code === 4403 || (code === 4401 && typeof this.options.token !== "function")) {
      // Another principal, or no fresh token to try: reconnecting would be refused again.
      this.giveUp(new AuthenticationError(`the server refused the credentials (close code ${code})`, code));
    } else if (this.options.reconnect === false) {
      this.giveUp(new ConnectionLostError(`the connection to ${this.url} was lost (close code ${code})`, code));
    } else {
      void this.reconnectLoop();
    }
  }

  private openFailure(link: Link, code: number): ClientConnectionError {
    const status = /\b(401|403)\b/.exec(link.error)?.[1];
    if (code === 4401 || code === 4403 || status !== undefined) {
      const why = status !== undefined ? `HTTP ${status}` : `close code ${code}`;
      const number = status !== undefined ? Number(status) : code;
      return new AuthenticationError(`the server refused the credentials (${why})`, number);
    }
    const detail = link.error !== "" ? `: ${link.error}` : ` (close code ${code})`;
    return new ClientConnectionError(`cannot connect to ${this.url}${detail}`, code);
  }

  private kickWatchdog(link: Link): void {
    clearTimeout(link.watchdog);
    const interval = this.serverInfo["heartbeat_interval"];
    const limit =
      this.options.heartbeatTimeout ?? (typeof interval === "number" && interval > 0 ? interval * 2500 + 5000 : 0);
    if (limit <= 0) return;
    link.watchdog = setTimeout(() => {
      if (link === this.link) this.dropConnection(); // no frame, not even a heartbeat: the connection is dead
    }, limit);
  }

  private becomeReady(): void {
    this.ready = true;
    this.setStatus({ status: "open", attempt: 0 });
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.flush();
    this.wantAck();
  }

  private waitLink(): Promise<Link> {
    this.checkUsable();
    if (this.ready && this.link !== null) return Promise.resolve(this.link);
    return new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject })).then(() => {
      this.checkUsable();
      if (this.link === null) throw new LinkLostError("the connection dropped");
      return this.link;
    });
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      await this.reconnectAttempts();
    } finally {
      this.reconnecting = false;
    }
  }

  private async reconnectAttempts(): Promise<void> {
    const random = this.options.random ?? Math.random;
    const limit = this.options.maxReconnectAttempts === undefined ? 20 : this.options.maxReconnectAttempts;
    let delay = this.options.initialBackoff ?? 200;
    let lastError: unknown = null;
    for (let attempt = 1; ; attempt += 1) {
      if (this.closing || this.failure !== null) return;
      const wait = Math.round(delay * (0.5 + random() * 0.5));
      this.setStatus({ status: "reconnecting", attempt, retryIn: wait });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (this.closing || this.failure !== null) return;
      try {
        const link = await this.openLink();
        this.reconnects += 1;
        if (await this.reattachAll(link)) {
          this.becomeReady();
          this.resendOpening(link);
          return;
        }
      } catch (error) {
        lastError = error;
        if (error instanceof AuthenticationError && (error.code === 4403 || typeof this.options.token !== "function")) {
          this.giveUp(error);
          return;
        }
      }
      if (limit !== null && attempt >= limit) {
        const message = `could not reconnect to ${this.url} after ${attempt} attempts: ${String(lastError)}`;
        this.giveUp(new ConnectionLostError(message));
        return;
      }
      delay = Math.min(this.options.maxBackoff ?? 10_000, delay * 2);
    }
  }

  private async reattachAll(link: Link): Promise<boolean> {
    const sessions = this.sessions.filter((s) => !s.closed);
    const results = await Promise.allSettled(sessions.map((s) => this.reattach(s, link)));
    if (link.lost) return false;
    results.forEach((result, index) => {
      const session = sessions[index];
      if (result.status === "fulfilled" || session === undefined) return;
      const error = result.reason instanceof ClientError ? result.reason : new ClientError(String(result.reason));
      session.markClosed(error instanceof ClientProtocolError ? error.code : "closed", error);
    });
    return true;
  }

  /** Re-attach `session` on `link` with `user.reconnect`; restore it from a signed state if the server lost it. */
  private async reattach(session: Session, link: Link): Promise<void> {
    let refusal: unknown = null;
    if (!session.needsRestore) {
      const answer = session.awaitReconnect();
      this.sendOn(link, session.reconnectFrame());
      try {
        await this.onLink(answer, link);
        session.ackedSeq = 0; // acknowledge again on this connection
        return;
      } catch (error) {
        if (!(error instanceof ClientProtocolError && error.code === "SESSION_NOT_FOUND")) throw error;
        refusal = error;
      }
    }
    const state = session.signedState ?? (await this.options.stateStore?.load(session.sessionId)) ?? null;
    if (state === null) {
      const message = `session ${session.sessionId} ended and no signed state is kept`;
      throw refusal ?? new SessionClosedError(message, "shutdown");
    }
    await this.restoreInto(session, state, link);
  }

  private async restoreInto(session: Session, state: SignedState, link: Link): Promise<void> {
    const frame = { event: UserEvents.RECONNECT_WITH_STATE, signed_state: state };
    const answer = new Promise<Session>((resolve, reject) => {
      const request = UserEvents.RECONNECT_WITH_STATE;
      this.opening.push({ request, frame, resolve, reject, target: session, generation: link.generation });
    });
    this.sendOn(link, frame);
    try {
      await this.onLink(answer, link);
    } finally {
      const pending = this.opening.find((r) => r.target === session);
      if (pending !== undefined) this.dropOpening(pending);
    }
  }

  /** `promise`, or a `LinkLostError` when `link` drops first, or a timeout. */
  private onLink<T>(promise: Promise<T>, link: Link): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (link.lost) {
        reject(new LinkLostError("the connection dropped while waiting for an answer"));
        return;
      }
      const timer =
        this.requestTimeout > 0
          ? setTimeout(() => reject(new RequestTimeoutError("no answer from the server")), this.requestTimeout)
          : undefined;
      link.onLost.push(() => reject(new LinkLostError("the connection dropped while waiting for an answer")));
      promise.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  private resendOpening(link: Link): void {
    for (const request of this.opening) {
      if (request.target === null && request.generation < link.generation) {
        request.generation = link.generation;
        this.sendOn(link, request.frame);
      }
    }
  }

  private giveUp(error: ClientError): void {
    if (this.failure === null) this.failure = error;
    for (const session of this.sessionsById.values()) session.connectionFailed(error);
    for (const request of this.opening.splice(0)) request.reject(error);
    for (const item of this.outbox.splice(0)) item.reject(error);
    for (const waiter of [...this.readyWaiters.splice(0), ...this.authWaiters.splice(0)]) waiter.reject(error);
    clearTimeout(this.ackTimer);
    this.setStatus({ status: "closed", attempt: 0, ...(this.closing ? {} : { error }) });
  }

  private setStatus(change: StatusChange): void {
    this.status = change.status;
    this.report(this.emitter.emit("status", change));
  }
}

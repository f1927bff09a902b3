/**
 * One conversation: what the application calls (send, ask, confirm, ...) and what the client feeds in.
 *
 * The client hands every frame of this session to `receive*` in arrival order. Sequenced events are
 * de-duplicated by `seq` (gapless per session, so `seq <= lastSeq` is a repeat), then answer a request
 * waiting for them (`exportState`, `close`...) or go to the session's subscribers and, when they belong
 * to the run this client started, to that run's stream.
 */
import type { ServerEvent } from "./generated/events.js";
import { AgentEvents, NoticeActions, PlanEvents, UserEvents } from "./generated/protocol.js";
import { Emitter } from "./emitter.js";
import {
  ClientError,
  ClientProtocolError,
  RequestTimeoutError,
  RunLostError,
  SessionClosedError,
  SessionTakenOverError,
} from "./errors.js";
import { eventMetadata, eventSeq, eventSessionId, gapRange } from "./frames.js";
import {
  answerOf,
  type ConfirmAnswer,
  type ConfirmCallback,
  confirmRequestOf,
  endsRun,
  type OwnRun,
  RunStream,
} from "./run.js";
import type { SignedState } from "./state-store.js";

const MAX_ANSWERS = 256;
/** A run's closing event is sent a moment before the server has wound the run up: ask again. */
const BUSY_RETRIES = 5;
const BUSY_RETRY_DELAY = 25; // ms, doubled per retry
const BACKLOG_LIMIT = 10_000;
/** Controls the server acknowledges with a `system.notice` whose action is the event without `user.`. */
const CONTROLS: ReadonlySet<string> = new Set([
  UserEvents.CANCEL_TASK,
  UserEvents.RESTART_TASK,
  UserEvents.CANCEL_PLAN,
  UserEvents.REPLAN,
]);
/** Sequenced events that answer a request rather than belong to a run. */
const NOT_RUN: ReadonlySet<string> = new Set([
  AgentEvents.SESSION_CREATED,
  AgentEvents.STATE_EXPORTED,
  AgentEvents.STATE_RESTORED,
  AgentEvents.SESSION_END,
]);

/** What a session needs from its client (implemented by `AgentClient`). @internal */
export interface SessionHost {
  readonly generation: number;
  readonly confirm: ConfirmCallback | undefined;
  readonly requestTimeout: number;
  checkUsable(): void;
  enqueue(frame: Record<string, unknown>, session: Session): Promise<number>;
  wantAck(): void;
  announce(session: Session, event: ServerEvent): void;
  afterFinalAnswer(session: Session): void;
  saveState(sessionId: string, state: SignedState): Promise<void>;
  canRestore(session: Session): boolean;
  forget(session: Session): void;
  spawn(work: Promise<unknown>): void;
}

interface Waiter {
  request: string;
  frame: Record<string, unknown>;
  match: (event: ServerEvent) => boolean;
  consume: boolean;
  resolve: (event: ServerEvent | null) => void;
  reject: (error: unknown) => void;
  generation: number;
}

export interface SessionEvents extends Record<string, unknown> {
  /** Every event of the session, once, in order (including notices and errors about its requests). */
  event: ServerEvent;
  /** The session was restored from its signed state; `sessionId` may have changed. */
  restored: { previousId: string; sessionId: string };
  /** The session ended; it takes no more requests. */
  closed: { reason: string; error: ClientError };
}

export interface SendOptions {
  /** Answers this run's confirmations (instead of the client's `confirm` option). */
  confirm?: ConfirmCallback;
}

/** A session on the server, possibly across several connections and (after a restore) ids. */
export class Session {
  /** The `agent.session_created` / `agent.state_restored` event that opened it. */
  created: ServerEvent | null = null;
  /** The latest exported signed state; used to restore the session when the server no longer knows it. */
  signedState: SignedState | null = null;
  /** Ranges of seq the server could no longer replay. */
  readonly replayGaps: Array<[number, number]> = [];
  /** Repeated events that were not delivered again. */
  duplicatesDropped = 0;
  /** Why the session ended (`null` while it is usable). */
  closedReason: string | null = null;

  /** @internal */ ackedSeq = 0;
  /** @internal */ needsRestore = false;
  /** @internal */ resumeTarget: { lastSeq: number; busy: boolean } | null = null;
  private readonly emitter = new Emitter<SessionEvents>();
  private own: OwnRun | null = null;
  private foreign = false;
  private planned = false;
  private waiters: Waiter[] = [];
  private readonly answers = new Map<string, { answer: ConfirmAnswer; generation: number | null }>();
  private readonly confirming = new Set<string>();
  private closedError: ClientError | null = null;
  /** Events announced before the application had the session (a resume's replay), for its first subscriber. */
  private backlog: ServerEvent[] | null = [];
  private buffering = true;
  private replayWaiters: Array<() => void> = [];

  /** @internal */
  constructor(
    private readonly host: SessionHost,
    /** The current server session id (changes when the session is restored from a state). */
    public sessionId: string,
    /** Secret that lets this client resume the session (rotated on every resume). */
    public resumeToken: string,
    /** `seq` of the last event received: every event up to it was delivered once. */
    public lastSeq = 0,
  ) {}

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Whether a run is in progress as far as this client knows. */
  get busy(): boolean {
    return this.own !== null || this.foreign;
  }

  get lastEventId(): string | null {
    return this.lastSeq > 0 ? `${this.sessionId}:${this.lastSeq}` : null;
  }

  /** Listen to every event of the session; returns a function that stops listening. */
  subscribe(listener: (event: ServerEvent) => void): () => void {
    const off = this.emitter.on("event", listener);
    const backlog = this.backlog;
    this.backlog = null;
    for (const event of backlog ?? []) listener(event);
    return off;
  }

  /** Listen to `event`, `restored` or `closed`; returns a function that stops listening. */
  on<K extends keyof SessionEvents>(name: K, listener: (value: SessionEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  // -- runs -----------------------------------------------------------------------------------

  /**
   * Ask the agent; iterate the result for every event of the run, the closing one last.
   * Throws `ClientProtocolError` `SESSION_BUSY` (`local`) at once while this client's previous run goes on.
   */
  send(text: string, options: SendOptions = {}): RunStream {
    if (typeof text !== "string" || text.trim() === "") throw new TypeError("the message must be a non-empty string");
    return this.startRun({ event: UserEvents.MESSAGE, content: text }, options.confirm);
  }

  /** Ask and return the final answer; rejects with `RunFailedError`, `RunInterruptedError`... */
  async ask(text: string, options: SendOptions = {}): Promise<string> {
    const events = await this.send(text, options).collect();
    return answerOf(events[events.length - 1]);
  }

  /** Plan & Solve direct mode: solve `tasks` (objects with an `id`); a run like `send`. */
  solveTasks(
    tasks: unknown[],
    question?: string,
    options: SendOptions & { planSummary?: string } = {},
  ): RunStream {
    if (!Array.isArray(tasks)) throw new TypeError("tasks must be an array of task objects");
    const content: Record<string, unknown> = { tasks };
    if (question !== undefined) content["question"] = question;
    if (options.planSummary !== undefined) content["plan_summary"] = options.planSummary;
    return this.startRun({ event: UserEvents.SOLVE_TASKS, content }, options.confirm);
  }

  private startRun(frame: Record<string, unknown>, confirm: ConfirmCallback | undefined): RunStream {
    this.checkUsable();
    if (this.own !== null) {
      throw new ClientProtocolError("SESSION_BUSY", "this client's previous run is still going; wait or cancel it", {
        requestEvent: String(frame["event"]),
        sessionId: this.sessionId,
        local: true,
      });
    }
    const own: OwnRun = {
      stream: new RunStream(),
      frame,
      mark: this.lastSeq,
      confirm,
      generation: 0,
      started: false,
      busyRetries: this.foreign ? BUSY_RETRIES : 0, // another run is known to be going: do not retry
    };
    this.own = own;
    this.host.enqueue(frame, this).then(
      (generation) => {
        own.generation = generation;
      },
      (error: unknown) => {
        if (this.own === own) this.endOwn(error instanceof ClientError ? error : new ClientError(String(error)));
      },
    );
    return own.stream;
  }

  // -- controls -------------------------------------------------------------------------------

  /** Answer an `agent.user_confirm`. A later error about it arrives as an event of the session. */
  async confirm(
    stepId: string,
    confirmed = true,
    options: { message?: string; tasks?: unknown[] } = {},
  ): Promise<void> {
    this.checkUsable();
    const answer: ConfirmAnswer = { confirmed, ...options };
    this.rememberAnswer(stepId, answer, null);
    await this.sendAnswer(stepId, answer);
  }

  /** Whether this client already answered (or is answering) the confirmation `stepId`. */
  isAnswered(stepId: string): boolean {
    return this.answers.has(stepId) || this.confirming.has(stepId);
  }

  /** Stop the run in progress; true once `agent.interrupted` arrived, false if there was none. */
  async cancel(): Promise<boolean> {
    this.checkUsable();
    if (!this.busy) return false;
    const reply = await this.request(UserEvents.CANCEL, {}, (e) => e.event === AgentEvents.INTERRUPTED, false);
    return reply !== null;
  }

  /** Ask for the session's signed state (kept in `signedState` and the client's state store). */
  async exportState(): Promise<SignedState> {
    this.checkUsable();
    const reply = await this.request(UserEvents.REQUEST_STATE, {}, (e) => e.event === AgentEvents.STATE_EXPORTED);
    const state = reply === null ? undefined : eventMetadata(reply)["signed_state"];
    if (typeof state !== "object" || state === null) {
      throw new ClientProtocolError("INTERNAL_ERROR", "agent.state_exported carried no signed_state");
    }
    this.signedState = state as SignedState;
    await this.host.saveState(this.sessionId, this.signedState);
    return this.signedState;
  }

  /** End the session on the server (an unknown session counts as closed). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.request(UserEvents.CLOSE_SESSION, {}, (e) => e.event === AgentEvents.SESSION_END);
    this.markClosed("closed");
  }

  /** Plan & Solve: cancel one task; true if the server did (the others go on). */
  cancelTask(taskId: string | number): Promise<boolean> {
    return this.control(UserEvents.CANCEL_TASK, { task_id: taskId });
  }

  /** Plan & Solve: run one task again (its events reach the subscribers). */
  restartTask(taskId: string | number): Promise<boolean> {
    return this.control(UserEvents.RESTART_TASK, { task_id: taskId });
  }

  /** Plan & Solve: cancel planning or a plan awaiting confirmation. */
  cancelPlan(): Promise<boolean> {
    return this.control(UserEvents.CANCEL_PLAN, null);
  }

  /** Plan & Solve: plan again, optionally for a new question. */
  replan(question?: string): Promise<boolean> {
    return this.control(UserEvents.REPLAN, question === undefined ? null : { question });
  }

  private async control(event: string, content: Record<string, unknown> | null): Promise<boolean> {
    this.checkUsable();
    const reply = await this.request(event, content === null ? {} : { content }, () => false);
    return reply !== null && eventMetadata(reply)["ok"] === true;
  }

  /** @internal */
  checkUsable(): void {
    this.host.checkUsable();
    if (this.closedError !== null) throw this.closedError;
  }

  private request(
    event: string,
    fields: Record<string, unknown>,
    match: (event: ServerEvent) => boolean,
    consume = true,
  ): Promise<ServerEvent | null> {
    const frame = { event, session_id: this.sessionId, ...fields };
    return new Promise<ServerEvent | null>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter: Waiter = {
        request: event,
        frame,
        match,
        consume,
        generation: 0,
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.waiters.push(waiter);
      if (this.host.requestTimeout > 0) {
        timer = setTimeout(
          () => waiter.reject(new RequestTimeoutError(`no answer to ${event} from the server`)),
          this.host.requestTimeout,
        );
      }
      this.host.enqueue(frame, this).then(
        (generation) => {
          waiter.generation = generation;
        },
        (error: unknown) => waiter.reject(error),
      );
    });
  }

  // -- re-attaching after a reconnect -----------------------------------------------------------

  /** @internal The frame that re-attaches this session on a new connection. */
  reconnectFrame(): Record<string, unknown> {
    const position = this.lastSeq > 0 ? { last_event_id: this.lastEventId } : { last_seq: 0 };
    return { event: UserEvents.RECONNECT, session_id: this.sessionId, resume_token: this.resumeToken, ...position };
  }

  /** @internal The application has the session now: later events reach its subscribers directly. */
  handedOver(): void {
    this.buffering = false;
    if (this.backlog?.length === 0) this.backlog = null;
  }

  /** @internal Resolves once the events missed before a resume have been replayed (at once if none are due). */
  whenReplayed(): Promise<void> {
    if (this.resumeTarget === null) return Promise.resolve();
    return new Promise((resolve) => this.replayWaiters.push(resolve));
  }

  private settleReplay(): void {
    const waiters = this.replayWaiters;
    this.replayWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** @internal Wait for the answer to `user.reconnect`: the `reconnect` notice, or the error refusing it. */
  awaitReconnect(): Promise<ServerEvent | null> {
    this.waiters = this.waiters.filter((w) => w.request !== UserEvents.RECONNECT); // from a connection that died
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        request: UserEvents.RECONNECT,
        frame: {},
        match: () => false,
        consume: true,
        generation: this.host.generation,
        resolve: (event) => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(event);
        },
        reject: (error) => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  // -- what the client feeds in (synchronous, in arrival order) --------------------------------

  /** @internal A sequenced or informational event of this session. */
  receiveEvent(event: ServerEvent, { consumed = false }: { consumed?: boolean } = {}): void {
    const seq = eventSeq(event);
    if (seq !== undefined) {
      if (seq <= this.lastSeq) {
        this.duplicatesDropped += 1;
        return;
      }
      this.lastSeq = seq;
      this.host.wantAck();
    }
    if (!consumed) consumed = this.resolveWaiter(event);
    if (!consumed) this.deliver(event, seq);
    if (event.event === AgentEvents.SESSION_END) this.onSessionEnd(event);
    this.checkReplayDone();
  }

  private deliver(event: ServerEvent, seq: number | undefined): void {
    const ends = seq !== undefined && !NOT_RUN.has(event.event) ? this.trackRun(event) : null;
    const own = this.own;
    const mine = ends === "own" || (ends === null && own !== null && own.started && seq !== undefined);
    const stream = ends === "own" ? this.finishOwn() : mine && own !== null ? own.stream : null;
    this.announce(event);
    stream?.queue.push(event);
    if (ends === "own") stream?.queue.end();
    if (event.event === AgentEvents.FINAL_ANSWER && ends !== null) this.host.afterFinalAnswer(this);
    if (event.event === AgentEvents.USER_CONFIRM) this.onConfirmRequest(event, mine ? own?.confirm : undefined);
  }

  /** Which run a run event belongs to: "own" when it ends this client's run, "foreign" when it ends another. */
  private trackRun(event: ServerEvent): "own" | "foreign" | null {
    const own = this.own;
    const seq = eventSeq(event) ?? 0;
    if (own !== null && !own.started && !this.foreign && seq > own.mark) own.started = true;
    const mine = own !== null && own.started;
    if (!mine) this.foreign = true;
    if (event.event === PlanEvents.START) this.planned = true;
    if (!endsRun(event, this.planned)) return null;
    this.planned = false;
    if (mine) return "own";
    this.foreign = false;
    return "foreign";
  }

  private finishOwn(): RunStream | null {
    const own = this.own;
    this.own = null;
    return own?.stream ?? null;
  }

  private announce(event: ServerEvent): void {
    if (this.backlog !== null && this.buffering) {
      this.backlog.push(event);
      if (this.backlog.length > BACKLOG_LIMIT) this.backlog = null;
    }
    this.emitter.emit("event", event);
    this.host.announce(this, event);
  }

  private resolveWaiter(event: ServerEvent): boolean {
    const waiter = this.waiters.find((w) => w.match(event));
    if (waiter === undefined) return false;
    waiter.resolve(event);
    return waiter.consume;
  }

  /** @internal A request error (`system.error`, unsequenced `agent.error`) about this session. */
  receiveError(event: ServerEvent): void {
    const gap = gapRange(event);
    if (gap !== null) {
      this.replayGaps.push(gap);
      this.lastSeq = Math.max(this.lastSeq, gap[1]); // those events are gone for good
      this.announce(event);
      this.checkReplayDone();
      return;
    }
    const error = ClientProtocolError.fromEvent(event);
    const request = error.requestEvent;
    const own = this.own;
    if (own !== null && !own.started && request === own.frame["event"]) {
      if (error.code === "SESSION_BUSY" && own.busyRetries < BUSY_RETRIES) {
        // Sent right after the previous run's closing event, while the server was still winding it up.
        const delay = BUSY_RETRY_DELAY * 2 ** own.busyRetries;
        own.busyRetries += 1;
        setTimeout(() => this.own === own && !this.closed && this.resend(own), delay);
        return;
      }
      this.announce(event);
      this.endOwn(error);
      return;
    }
    const waiter = this.waiters.find((w) => w.request === request);
    if (waiter !== undefined) {
      const harmless =
        (request === UserEvents.CANCEL && error.code === "NO_ACTIVE_RUN") ||
        (request === UserEvents.CLOSE_SESSION && error.code === "SESSION_NOT_FOUND");
      if (harmless) waiter.resolve(null);
      else waiter.reject(error);
      return;
    }
    if (request === UserEvents.ACK) return; // advisory: nothing to tell the application
    this.announce(event); // about a frame sent without waiting (a confirmation's answer...)
    if (own !== null && own.started) own.stream.queue.push(event);
  }

  /** @internal Whether this session waits for the answer to a `request` frame. */
  expects(request: string): boolean {
    const own = this.own;
    const running = own !== null && !own.started && own.frame["event"] === request;
    return running || this.waiters.some((w) => w.request === request);
  }

  /** @internal A `system.notice` about this session. */
  receiveNotice(event: ServerEvent): void {
    const meta = eventMetadata(event);
    const action = typeof meta["action"] === "string" ? meta["action"] : "";
    const request = `user.${action}`;
    if (action === NoticeActions.RECONNECT) {
      if (typeof meta["resume_token"] === "string" && meta["resume_token"] !== "") {
        this.resumeToken = meta["resume_token"]; // each reconnect spends the token and hands out the next
      }
      const target = typeof meta["last_seq"] === "number" ? meta["last_seq"] : 0;
      this.resumeTarget = { lastSeq: target, busy: meta["busy"] === true };
    }
    const waiter = this.waiters.find((w) => w.request === request);
    if (CONTROLS.has(request) || action === NoticeActions.RECONNECT) {
      const restarts = request === UserEvents.RESTART_TASK || request === UserEvents.REPLAN;
      if (restarts && meta["ok"] === true && !this.busy) this.foreign = true; // the server starts a run for it
      waiter?.resolve(event);
    }
    this.announce(event);
    if (action === NoticeActions.SESSION_TAKEN_OVER) {
      const message = `session ${this.sessionId} was resumed by another connection`;
      this.markClosed("taken_over", new SessionTakenOverError(message, "taken_over"));
    }
    this.checkReplayDone();
  }

  /** @internal `agent.state_restored`: this object now stands for the (possibly new) session it names. */
  restored(event: ServerEvent, { deliver }: { deliver: boolean }): void {
    const own = this.own;
    const lost = own !== null && (own.started || own.generation > 0); // a message still queued goes on
    const previousId = this.sessionId;
    const newId = eventSessionId(event);
    const meta = eventMetadata(event);
    if (newId !== undefined && newId !== this.sessionId) {
      this.sessionId = newId;
      this.lastSeq = 0;
      this.ackedSeq = 0;
      this.resumeTarget = null;
      this.foreign = false;
      this.planned = false;
      this.answers.clear();
      this.failWaiters(new ClientProtocolError("SESSION_NOT_FOUND", "the session was restored"));
    }
    if (typeof meta["resume_token"] === "string") this.resumeToken = meta["resume_token"];
    this.needsRestore = false;
    this.receiveEvent(event, { consumed: !deliver });
    if (lost && meta["reattached"] !== true) {
      this.endOwn(new RunLostError("the session expired during the run and was restored; ask again"));
    } else if (own !== null && own === this.own) {
      own.mark = this.lastSeq;
    }
    if (meta["pending_calls"]) this.foreign = true; // the restore re-runs unfinished tool calls
    this.emitter.emit("restored", { previousId, sessionId: this.sessionId });
  }

  /** After a resume, once the replay is in: send again what the dropped connection may have swallowed. */
  private checkReplayDone(): void {
    const target = this.resumeTarget;
    if (target === null || this.lastSeq < target.lastSeq) return;
    this.resumeTarget = null;
    this.settleReplay();
    const generation = this.host.generation;
    const own = this.own;
    if (own === null) {
      this.foreign = target.busy; // whatever we believed, the server knows
    } else if (!own.started && own.generation > 0 && own.generation < generation && !target.busy) {
      this.resend(own);
    } else if (own.started && !target.busy) {
      this.endOwn(new RunLostError("the run ended while disconnected and its last events were not retained"));
    }
    for (const waiter of [...this.waiters]) {
      if (!(waiter.generation > 0 && waiter.generation < generation) || waiter.request === UserEvents.RECONNECT) {
        continue;
      }
      if (waiter.request === UserEvents.CANCEL && !target.busy) waiter.resolve(null);
      else this.resend(waiter);
    }
  }

  private resend(request: OwnRun | Waiter): void {
    this.host.enqueue(request.frame, this).then(
      (generation) => {
        request.generation = generation;
      },
      () => undefined, // the failure reaches the request through failWaiters / endOwn
    );
  }

  private onSessionEnd(event: ServerEvent): void {
    const reason = eventMetadata(event)["reason"];
    const why = typeof reason === "string" && reason !== "" ? reason : "closed";
    if (why === "shutdown" && this.host.canRestore(this)) {
      this.needsRestore = true; // restore from the signed state once the server is back
      return;
    }
    this.markClosed(why);
  }

  private endOwn(error: ClientError): void {
    const own = this.finishOwn();
    own?.queue.end(error);
  }

  private failWaiters(error: ClientError): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.request === UserEvents.CANCEL || waiter.request === UserEvents.CLOSE_SESSION) waiter.resolve(null);
      else waiter.reject(error);
    }
  }

  /** @internal */
  markClosed(reason: string, error?: ClientError): void {
    if (this.closed) return;
    this.closedReason = reason;
    const why = error ?? new SessionClosedError(`session ${this.sessionId} has ended (${reason})`, reason);
    this.closedError = why;
    this.endOwn(why);
    this.foreign = false;
    this.failWaiters(why);
    this.settleReplay();
    this.host.forget(this);
    this.emitter.emit("closed", { reason, error: why });
  }

  /** @internal The connection is gone for good. */
  connectionFailed(error: ClientError): void {
    this.endOwn(error);
    this.failWaiters(error);
    this.settleReplay();
  }

  // -- confirmations --------------------------------------------------------------------------

  private onConfirmRequest(event: ServerEvent, override: ConfirmCallback | undefined): void {
    const request = confirmRequestOf(event, this.sessionId);
    if (request === null) return;
    const known = this.answers.get(request.stepId);
    if (known !== undefined) {
      // Asked again after a resume: our answer was lost with the old connection.
      if (known.generation !== null && known.generation < this.host.generation) {
        this.host.spawn(this.sendAnswer(request.stepId, known.answer));
      }
      return;
    }
    const handler = override ?? this.host.confirm;
    if (handler === undefined || this.confirming.has(request.stepId)) return;
    this.confirming.add(request.stepId);
    this.host.spawn(this.autoConfirm(handler, request.stepId, request));
  }

  private async autoConfirm(
    handler: ConfirmCallback,
    stepId: string,
    request: Parameters<ConfirmCallback>[0],
  ): Promise<void> {
    let answer: ConfirmAnswer;
    try {
      const result = await handler(request);
      answer = typeof result === "boolean" ? { confirmed: result } : result;
    } catch {
      // Never leave the run waiting on a broken callback.
      answer = { confirmed: false, message: "the client's confirmation callback failed" };
    } finally {
      this.confirming.delete(stepId);
    }
    if (!this.closed && !this.answers.has(stepId)) {
      this.rememberAnswer(stepId, answer, null);
      await this.sendAnswer(stepId, answer);
    }
  }

  private rememberAnswer(stepId: string, answer: ConfirmAnswer, generation: number | null): void {
    this.answers.set(stepId, { answer, generation });
    while (this.answers.size > MAX_ANSWERS) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
  }

  private async sendAnswer(stepId: string, answer: ConfirmAnswer): Promise<void> {
    const content: Record<string, unknown> = { confirmed: answer.confirmed };
    if (answer.message !== undefined) content["message"] = answer.message;
    if (answer.tasks !== undefined) content["tasks"] = answer.tasks;
    const frame = { event: UserEvents.RESPONSE, session_id: this.sessionId, step_id: stepId, content };
    const generation = await this.host.enqueue(frame, this);
    if (this.answers.has(stepId)) this.answers.set(stepId, { answer, generation });
  }
}

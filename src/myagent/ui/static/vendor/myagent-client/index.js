// src/generated/protocol.ts
var UserEvents = Object.freeze({
  CREATE_SESSION: "user.create_session",
  MESSAGE: "user.message",
  RESPONSE: "user.response",
  CANCEL: "user.cancel",
  ACK: "user.ack",
  RECONNECT: "user.reconnect",
  CLOSE_SESSION: "user.close_session",
  REQUEST_STATE: "user.request_state",
  RECONNECT_WITH_STATE: "user.reconnect_with_state",
  SOLVE_TASKS: "user.solve_tasks",
  CANCEL_TASK: "user.cancel_task",
  RESTART_TASK: "user.restart_task",
  CANCEL_PLAN: "user.cancel_plan",
  REPLAN: "user.replan",
  AUTHENTICATE: "user.authenticate"
});
var AgentEvents = Object.freeze({
  SESSION_CREATED: "agent.session_created",
  THINKING: "agent.thinking",
  TOOL_CALL: "agent.tool_call",
  USER_CONFIRM: "agent.user_confirm",
  TOOL_RESULT: "agent.tool_result",
  PARTIAL_ANSWER: "agent.partial_answer",
  FINAL_ANSWER: "agent.final_answer",
  LLM_MESSAGE: "agent.llm_message",
  ERROR: "agent.error",
  INTERRUPTED: "agent.interrupted",
  SESSION_END: "agent.session_end",
  STATE_EXPORTED: "agent.state_exported",
  STATE_RESTORED: "agent.state_restored",
  CONFIRMATION_WITHDRAWN: "agent.confirmation_withdrawn",
  RUN_RESUMED: "agent.run_resumed"
});
var SystemEvents = Object.freeze({
  CONNECTED: "system.connected",
  HEARTBEAT: "system.heartbeat",
  NOTICE: "system.notice",
  ERROR: "system.error"
});
var PlanEvents = Object.freeze({
  START: "plan.start",
  COMPLETED: "plan.completed",
  CANCELLED: "plan.cancelled",
  COERCION_ERROR: "plan.coercion_error"
});
var SolverEvents = Object.freeze({
  START: "solver.start",
  COMPLETED: "solver.completed",
  FAILED: "solver.failed",
  CANCELLED: "solver.cancelled",
  RESTARTED: "solver.restarted"
});
var AggregateEvents = Object.freeze({
  START: "aggregate.start",
  COMPLETED: "aggregate.completed"
});
var PipelineEvents = Object.freeze({
  COMPLETED: "pipeline.completed",
  TASKS_COMPLETED: "pipeline.tasks_completed"
});
var NoticeActions = Object.freeze({
  RECONNECT: "reconnect",
  SESSION_TAKEN_OVER: "session_taken_over",
  SOLVE_TASKS: "solve_tasks",
  CANCEL_TASK: "cancel_task",
  RESTART_TASK: "restart_task",
  CANCEL_PLAN: "cancel_plan",
  REPLAN: "replan"
});
var ToolStatuses = Object.freeze({
  RUNNING: "running",
  SUCCESS: "success",
  FAILED: "failed",
  REFUSED: "refused",
  EXPIRED: "expired",
  CANCELLED: "cancelled"
});
var RUN_CLOSING_EVENTS = Object.freeze(/* @__PURE__ */ new Set(["agent.error", "agent.final_answer", "agent.interrupted", "pipeline.tasks_completed"]));
var REQUEST_ERROR_EVENTS = Object.freeze(/* @__PURE__ */ new Set(["system.error"]));
var UNSEQUENCED_REQUEST_ERROR_EVENTS = Object.freeze(/* @__PURE__ */ new Set(["agent.error"]));
var ERROR_CODES = Object.freeze(["INVALID_JSON", "INVALID_FRAME", "UNKNOWN_EVENT", "MISSING_FIELD", "INVALID_FIELD", "MESSAGE_TOO_LARGE", "BINARY_NOT_SUPPORTED", "RATE_LIMITED", "SESSION_NOT_FOUND", "SESSION_NOT_OWNED", "SESSION_AMBIGUOUS", "SESSION_BUSY", "SESSION_LIMIT", "SESSION_ACTIVE_ELSEWHERE", "INVALID_RESUME_TOKEN", "REPLAY_GAP", "ACK_OUT_OF_RANGE", "STEP_NOT_FOUND", "STEP_ALREADY_ANSWERED", "NO_ACTIVE_RUN", "NOT_SUPPORTED", "AGENT_FACTORY_FAILED", "RUN_FAILED", "MODEL_ERROR", "RUN_LOST", "STATE_MALFORMED", "STATE_VERSION_MISMATCH", "STATE_CHECKSUM_MISMATCH", "STATE_SIGNATURE_MISMATCH", "STATE_EXPIRED", "STATE_FROM_FUTURE", "STATE_TOO_LARGE", "STATE_UNREADABLE", "SERVER_SHUTTING_DOWN", "INTERNAL_ERROR"]);
function isRequestError(frame) {
  const unsequenced = frame.seq === void 0 || frame.seq === null;
  return REQUEST_ERROR_EVENTS.has(frame.event) || UNSEQUENCED_REQUEST_ERROR_EVENTS.has(frame.event) && unsequenced;
}
function closesRun(frame) {
  return RUN_CLOSING_EVENTS.has(frame.event) && !isRequestError(frame);
}
function parseEventId(eventId) {
  if (typeof eventId !== "string") return null;
  const cut = eventId.lastIndexOf(":");
  const seq = eventId.slice(cut + 1);
  if (cut <= 0 || !/^[0-9]+$/.test(seq)) return null;
  return [eventId.slice(0, cut), Number(seq)];
}
function formatEventId(sessionId, seq) {
  return `${sessionId}:${seq}`;
}

// src/emitter.ts
var Emitter = class {
  listeners = /* @__PURE__ */ new Map();
  /** Call `listener` for every `name` event; returns a function that removes it. */
  on(name, listener) {
    let set = this.listeners.get(name);
    if (set === void 0) {
      set = /* @__PURE__ */ new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }
  /** Whether anyone listens to `name`. */
  has(name) {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }
  /** Call every listener; returns the errors they threw (a listener's bug must not break the client). */
  emit(name, value) {
    const errors = [];
    for (const listener of [...this.listeners.get(name) ?? []]) {
      try {
        listener(value);
      } catch (error) {
        errors.push(error);
      }
    }
    return errors;
  }
};

// src/frames.ts
function eventMetadata(event) {
  const meta = event.metadata;
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? meta : {};
}
function eventText(event) {
  const content = event.content;
  if (content === void 0 || content === null) return "";
  return typeof content === "string" ? content : JSON.stringify(content);
}
function eventSeq(event) {
  const seq = event.seq;
  return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : void 0;
}
function eventSessionId(event) {
  const sid = event.session_id;
  return typeof sid === "string" ? sid : void 0;
}
function isFinal(event) {
  return closesRun({ event: event.event, seq: eventSeq(event) ?? null }) && eventMetadata(event)["origin"] == null;
}
function parseFrame(data) {
  if (typeof data !== "string") return null;
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return null;
  return typeof frame.event === "string" ? frame : null;
}
function gapRange(event) {
  if (event.event !== SystemEvents.ERROR) return null;
  const meta = eventMetadata(event);
  if (meta["error_code"] !== "REPLAY_GAP") return null;
  const details = meta["details"];
  const first = details?.["missing_from_seq"];
  const last = details?.["missing_to_seq"];
  return typeof first === "number" && typeof last === "number" ? [first, last] : [0, 0];
}

// src/errors.ts
var ClientError = class extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
};
var ClientProtocolError = class _ClientProtocolError extends ClientError {
  constructor(code, detail, options = {}) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    this.options = options;
  }
  get requestEvent() {
    return this.options.requestEvent;
  }
  get details() {
    return this.options.details ?? {};
  }
  /** True when the client refused the request without sending it. */
  get local() {
    return this.options.local ?? false;
  }
  static fromEvent(event) {
    const meta = eventMetadata(event);
    const details = meta["details"];
    const code = typeof meta["error_code"] === "string" ? meta["error_code"] : "INTERNAL_ERROR";
    return new _ClientProtocolError(code, eventText(event), {
      details: isObject(details) ? details : {},
      requestEvent: typeof meta["request_event"] === "string" ? meta["request_event"] : void 0,
      sessionId: "session_id" in event && typeof event.session_id === "string" ? event.session_id : void 0
    });
  }
};
var RunFailedError = class extends ClientError {
  constructor(code, detail, event) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    this.event = event;
  }
};
var RunInterruptedError = class extends ClientError {
  constructor(reason, event) {
    super(`the run was interrupted (${reason})`);
    this.reason = reason;
    this.event = event;
  }
};
var RunLostError = class extends ClientError {
};
var RequestTimeoutError = class extends ClientError {
};
var SessionClosedError = class extends ClientError {
  constructor(message, reason = "closed") {
    super(message);
    this.reason = reason;
  }
};
var SessionTakenOverError = class extends SessionClosedError {
};
var ClientConnectionError = class extends ClientError {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
};
var AuthenticationError = class extends ClientConnectionError {
};
var ConnectionLostError = class extends ClientConnectionError {
};
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// src/queue.ts
var AsyncQueue = class {
  items = [];
  waiting = null;
  failWaiting = null;
  done = false;
  error = null;
  push(item) {
    if (this.done) return;
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.clearWaiter();
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }
  /** No more items; the reader sees the end after the items already queued (or `error`). */
  end(error = null) {
    if (this.done) return;
    this.done = true;
    this.error = error;
    if (this.waiting !== null && this.items.length === 0) this.settleEnd();
  }
  get ended() {
    return this.done;
  }
  next() {
    const item = this.items.shift();
    if (item !== void 0) return Promise.resolve({ value: item, done: false });
    if (this.done) {
      return this.error === null ? Promise.resolve({ value: void 0, done: true }) : Promise.reject(this.error);
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }
  settleEnd() {
    const resolve = this.waiting;
    const reject = this.failWaiting;
    this.clearWaiter();
    if (this.error === null) resolve?.({ value: void 0, done: true });
    else reject?.(this.error);
  }
  clearWaiter() {
    this.waiting = null;
    this.failWaiting = null;
  }
};

// src/run.ts
var RunStream = class {
  /** @internal */
  queue = new AsyncQueue();
  next() {
    return this.queue.next();
  }
  /** Stop reading (the run goes on; the session's subscribers still see its events). */
  return() {
    this.queue.end();
    return Promise.resolve({ value: void 0, done: true });
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  /** Every remaining event of the run. */
  async collect() {
    const events = [];
    for await (const event of this) events.push(event);
    return events;
  }
};
function confirmRequestOf(event, sessionId) {
  if (event.event !== AgentEvents.USER_CONFIRM || typeof event.step_id !== "string") return null;
  const meta = eventMetadata(event);
  const str = (value, fallback = "") => typeof value === "string" ? value : fallback;
  return {
    sessionId,
    stepId: event.step_id,
    toolName: str(meta["tool_name"]),
    toolArgs: meta["tool_args"],
    toolDescription: str(meta["tool_description"]),
    scope: str(meta["scope"], "tool"),
    expiresAt: typeof meta["expires_at"] === "string" ? meta["expires_at"] : void 0,
    event
  };
}
function endsRun(event, planned) {
  return isFinal(event) || !planned && event.event === PlanEvents.COERCION_ERROR;
}
function answerOf(last) {
  if (last === void 0) throw new RunLostError("the run produced no event");
  if (last.event === AgentEvents.FINAL_ANSWER) return eventText(last);
  const meta = eventMetadata(last);
  if (last.event === AgentEvents.ERROR) {
    const code = typeof meta["error_code"] === "string" ? meta["error_code"] : "RUN_FAILED";
    throw new RunFailedError(code, eventText(last), last);
  }
  if (last.event === AgentEvents.INTERRUPTED) {
    throw new RunInterruptedError(typeof meta["reason"] === "string" ? meta["reason"] : "user_cancel", last);
  }
  throw new RunLostError(`the run ended with ${last.event}, without an answer`);
}

// src/session.ts
var MAX_ANSWERS = 256;
var BUSY_RETRIES = 5;
var BUSY_RETRY_DELAY = 25;
var BACKLOG_LIMIT = 1e4;
var CONTROLS = /* @__PURE__ */ new Set([
  UserEvents.CANCEL_TASK,
  UserEvents.RESTART_TASK,
  UserEvents.CANCEL_PLAN,
  UserEvents.REPLAN
]);
var NOT_RUN = /* @__PURE__ */ new Set([
  AgentEvents.SESSION_CREATED,
  AgentEvents.STATE_EXPORTED,
  AgentEvents.STATE_RESTORED,
  AgentEvents.SESSION_END
]);
var Session = class {
  /** @internal */
  constructor(host, sessionId, resumeToken, lastSeq = 0) {
    this.host = host;
    this.sessionId = sessionId;
    this.resumeToken = resumeToken;
    this.lastSeq = lastSeq;
  }
  /** The `agent.session_created` / `agent.state_restored` event that opened it. */
  created = null;
  /** The latest exported signed state; used to restore the session when the server no longer knows it. */
  signedState = null;
  /** Ranges of seq the server could no longer replay. */
  replayGaps = [];
  /** Repeated events that were not delivered again. */
  duplicatesDropped = 0;
  /** Why the session ended (`null` while it is usable). */
  closedReason = null;
  /** @internal */
  ackedSeq = 0;
  /** @internal */
  needsRestore = false;
  /** @internal */
  resumeTarget = null;
  emitter = new Emitter();
  own = null;
  foreign = false;
  planned = false;
  waiters = [];
  answers = /* @__PURE__ */ new Map();
  confirming = /* @__PURE__ */ new Set();
  closedError = null;
  /** Events announced before the application had the session (a resume's replay), for its first subscriber. */
  backlog = [];
  buffering = true;
  replayWaiters = [];
  get closed() {
    return this.closedReason !== null;
  }
  /** Whether a run is in progress as far as this client knows. */
  get busy() {
    return this.own !== null || this.foreign;
  }
  get lastEventId() {
    return this.lastSeq > 0 ? `${this.sessionId}:${this.lastSeq}` : null;
  }
  /** Listen to every event of the session; returns a function that stops listening. */
  subscribe(listener) {
    const off = this.emitter.on("event", listener);
    const backlog = this.backlog;
    this.backlog = null;
    for (const event of backlog ?? []) listener(event);
    return off;
  }
  /** Listen to `event`, `restored` or `closed`; returns a function that stops listening. */
  on(name, listener) {
    return this.emitter.on(name, listener);
  }
  // -- runs -----------------------------------------------------------------------------------
  /**
   * Ask the agent; iterate the result for every event of the run, the closing one last.
   * Throws `ClientProtocolError` `SESSION_BUSY` (`local`) at once while this client's previous run goes on.
   */
  send(text, options = {}) {
    if (typeof text !== "string" || text.trim() === "") throw new TypeError("the message must be a non-empty string");
    return this.startRun({ event: UserEvents.MESSAGE, content: text }, options.confirm);
  }
  /** Ask and return the final answer; rejects with `RunFailedError`, `RunInterruptedError`... */
  async ask(text, options = {}) {
    const events = await this.send(text, options).collect();
    return answerOf(events[events.length - 1]);
  }
  /** Plan & Solve direct mode: solve `tasks` (objects with an `id`); a run like `send`. */
  solveTasks(tasks, question, options = {}) {
    if (!Array.isArray(tasks)) throw new TypeError("tasks must be an array of task objects");
    const content = { tasks };
    if (question !== void 0) content["question"] = question;
    if (options.planSummary !== void 0) content["plan_summary"] = options.planSummary;
    return this.startRun({ event: UserEvents.SOLVE_TASKS, content }, options.confirm);
  }
  startRun(frame, confirm) {
    this.checkUsable();
    if (this.own !== null) {
      throw new ClientProtocolError("SESSION_BUSY", "this client's previous run is still going; wait or cancel it", {
        requestEvent: String(frame["event"]),
        sessionId: this.sessionId,
        local: true
      });
    }
    const own = {
      stream: new RunStream(),
      frame,
      mark: this.lastSeq,
      confirm,
      generation: 0,
      started: false,
      busyRetries: this.foreign ? BUSY_RETRIES : 0
      // another run is known to be going: do not retry
    };
    this.own = own;
    this.host.enqueue(frame, this).then(
      (generation) => {
        own.generation = generation;
      },
      (error) => {
        if (this.own === own) this.endOwn(error instanceof ClientError ? error : new ClientError(String(error)));
      }
    );
    return own.stream;
  }
  // -- controls -------------------------------------------------------------------------------
  /** Answer an `agent.user_confirm`. A later error about it arrives as an event of the session. */
  async confirm(stepId, confirmed = true, options = {}) {
    this.checkUsable();
    const answer = { confirmed, ...options };
    this.rememberAnswer(stepId, answer, null);
    await this.sendAnswer(stepId, answer);
  }
  /** Whether this client already answered (or is answering) the confirmation `stepId`. */
  isAnswered(stepId) {
    return this.answers.has(stepId) || this.confirming.has(stepId);
  }
  /** Stop the run in progress; true once `agent.interrupted` arrived, false if there was none. */
  async cancel() {
    this.checkUsable();
    if (!this.busy) return false;
    const reply = await this.request(UserEvents.CANCEL, {}, (e) => e.event === AgentEvents.INTERRUPTED, false);
    return reply !== null;
  }
  /** Ask for the session's signed state (kept in `signedState` and the client's state store). */
  async exportState() {
    this.checkUsable();
    const reply = await this.request(UserEvents.REQUEST_STATE, {}, (e) => e.event === AgentEvents.STATE_EXPORTED);
    const state = reply === null ? void 0 : eventMetadata(reply)["signed_state"];
    if (typeof state !== "object" || state === null) {
      throw new ClientProtocolError("INTERNAL_ERROR", "agent.state_exported carried no signed_state");
    }
    this.signedState = state;
    await this.host.saveState(this.sessionId, this.signedState);
    return this.signedState;
  }
  /** End the session on the server (an unknown session counts as closed). */
  async close() {
    if (this.closed) return;
    await this.request(UserEvents.CLOSE_SESSION, {}, (e) => e.event === AgentEvents.SESSION_END);
    this.markClosed("closed");
  }
  /** Plan & Solve: cancel one task; true if the server did (the others go on). */
  cancelTask(taskId) {
    return this.control(UserEvents.CANCEL_TASK, { task_id: taskId });
  }
  /** Plan & Solve: run one task again (its events reach the subscribers). */
  restartTask(taskId) {
    return this.control(UserEvents.RESTART_TASK, { task_id: taskId });
  }
  /** Plan & Solve: cancel planning or a plan awaiting confirmation. */
  cancelPlan() {
    return this.control(UserEvents.CANCEL_PLAN, null);
  }
  /** Plan & Solve: plan again, optionally for a new question. */
  replan(question) {
    return this.control(UserEvents.REPLAN, question === void 0 ? null : { question });
  }
  async control(event, content) {
    this.checkUsable();
    const reply = await this.request(event, content === null ? {} : { content }, () => false);
    return reply !== null && eventMetadata(reply)["ok"] === true;
  }
  /** @internal */
  checkUsable() {
    this.host.checkUsable();
    if (this.closedError !== null) throw this.closedError;
  }
  request(event, fields, match, consume = true) {
    const frame = { event, session_id: this.sessionId, ...fields };
    return new Promise((resolve, reject) => {
      let timer;
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = {
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
        }
      };
      this.waiters.push(waiter);
      if (this.host.requestTimeout > 0) {
        timer = setTimeout(
          () => waiter.reject(new RequestTimeoutError(`no answer to ${event} from the server`)),
          this.host.requestTimeout
        );
      }
      this.host.enqueue(frame, this).then(
        (generation) => {
          waiter.generation = generation;
        },
        (error) => waiter.reject(error)
      );
    });
  }
  // -- re-attaching after a reconnect -----------------------------------------------------------
  /** @internal The frame that re-attaches this session on a new connection. */
  reconnectFrame() {
    const position = this.lastSeq > 0 ? { last_event_id: this.lastEventId } : { last_seq: 0 };
    return { event: UserEvents.RECONNECT, session_id: this.sessionId, resume_token: this.resumeToken, ...position };
  }
  /** @internal The application has the session now: later events reach its subscribers directly. */
  handedOver() {
    this.buffering = false;
    if (this.backlog?.length === 0) this.backlog = null;
  }
  /** @internal Resolves once the events missed before a resume have been replayed (at once if none are due). */
  whenReplayed() {
    if (this.resumeTarget === null) return Promise.resolve();
    return new Promise((resolve) => this.replayWaiters.push(resolve));
  }
  settleReplay() {
    const waiters = this.replayWaiters;
    this.replayWaiters = [];
    for (const resolve of waiters) resolve();
  }
  /** @internal Wait for the answer to `user.reconnect`: the `reconnect` notice, or the error refusing it. */
  awaitReconnect() {
    this.waiters = this.waiters.filter((w) => w.request !== UserEvents.RECONNECT);
    return new Promise((resolve, reject) => {
      const waiter = {
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
        }
      };
      this.waiters.push(waiter);
    });
  }
  // -- what the client feeds in (synchronous, in arrival order) --------------------------------
  /** @internal A sequenced or informational event of this session. */
  receiveEvent(event, { consumed = false } = {}) {
    const seq = eventSeq(event);
    if (seq !== void 0) {
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
  deliver(event, seq) {
    const ends = seq !== void 0 && !NOT_RUN.has(event.event) ? this.trackRun(event) : null;
    const own = this.own;
    const mine = ends === "own" || ends === null && own !== null && own.started && seq !== void 0;
    const stream = ends === "own" ? this.finishOwn() : mine && own !== null ? own.stream : null;
    this.announce(event);
    stream?.queue.push(event);
    if (ends === "own") stream?.queue.end();
    if (event.event === AgentEvents.FINAL_ANSWER && ends !== null) this.host.afterFinalAnswer(this);
    if (event.event === AgentEvents.USER_CONFIRM) this.onConfirmRequest(event, mine ? own?.confirm : void 0);
  }
  /** Which run a run event belongs to: "own" when it ends this client's run, "foreign" when it ends another. */
  trackRun(event) {
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
  finishOwn() {
    const own = this.own;
    this.own = null;
    return own?.stream ?? null;
  }
  announce(event) {
    if (this.backlog !== null && this.buffering) {
      this.backlog.push(event);
      if (this.backlog.length > BACKLOG_LIMIT) this.backlog = null;
    }
    this.emitter.emit("event", event);
    this.host.announce(this, event);
  }
  resolveWaiter(event) {
    const waiter = this.waiters.find((w) => w.match(event));
    if (waiter === void 0) return false;
    waiter.resolve(event);
    return waiter.consume;
  }
  /** @internal A request error (`system.error`, unsequenced `agent.error`) about this session. */
  receiveError(event) {
    const gap = gapRange(event);
    if (gap !== null) {
      this.replayGaps.push(gap);
      this.lastSeq = Math.max(this.lastSeq, gap[1]);
      this.announce(event);
      this.checkReplayDone();
      return;
    }
    const error = ClientProtocolError.fromEvent(event);
    const request = error.requestEvent;
    const own = this.own;
    if (own !== null && !own.started && request === own.frame["event"]) {
      if (error.code === "SESSION_BUSY" && own.busyRetries < BUSY_RETRIES) {
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
    if (waiter !== void 0) {
      const harmless = request === UserEvents.CANCEL && error.code === "NO_ACTIVE_RUN" || request === UserEvents.CLOSE_SESSION && error.code === "SESSION_NOT_FOUND";
      if (harmless) waiter.resolve(null);
      else waiter.reject(error);
      return;
    }
    if (request === UserEvents.ACK) return;
    this.announce(event);
    if (own !== null && own.started) own.stream.queue.push(event);
  }
  /** @internal Whether this session waits for the answer to a `request` frame. */
  expects(request) {
    const own = this.own;
    const running = own !== null && !own.started && own.frame["event"] === request;
    return running || this.waiters.some((w) => w.request === request);
  }
  /** @internal A `system.notice` about this session. */
  receiveNotice(event) {
    const meta = eventMetadata(event);
    const action = typeof meta["action"] === "string" ? meta["action"] : "";
    const request = `user.${action}`;
    if (action === NoticeActions.RECONNECT) {
      if (typeof meta["resume_token"] === "string" && meta["resume_token"] !== "") {
        this.resumeToken = meta["resume_token"];
      }
      const target = typeof meta["last_seq"] === "number" ? meta["last_seq"] : 0;
      this.resumeTarget = { lastSeq: target, busy: meta["busy"] === true };
    }
    const waiter = this.waiters.find((w) => w.request === request);
    if (CONTROLS.has(request) || action === NoticeActions.RECONNECT) {
      const restarts = request === UserEvents.RESTART_TASK || request === UserEvents.REPLAN;
      if (restarts && meta["ok"] === true && !this.busy) this.foreign = true;
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
  restored(event, { deliver }) {
    const own = this.own;
    const lost = own !== null && (own.started || own.generation > 0);
    const previousId = this.sessionId;
    const newId = eventSessionId(event);
    const meta = eventMetadata(event);
    if (newId !== void 0 && newId !== this.sessionId) {
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
    if (meta["pending_calls"]) this.foreign = true;
    this.emitter.emit("restored", { previousId, sessionId: this.sessionId });
  }
  /** After a resume, once the replay is in: send again what the dropped connection may have swallowed. */
  checkReplayDone() {
    const target = this.resumeTarget;
    if (target === null || this.lastSeq < target.lastSeq) return;
    this.resumeTarget = null;
    this.settleReplay();
    const generation = this.host.generation;
    const own = this.own;
    if (own === null) {
      this.foreign = target.busy;
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
  resend(request) {
    this.host.enqueue(request.frame, this).then(
      (generation) => {
        request.generation = generation;
      },
      () => void 0
      // the failure reaches the request through failWaiters / endOwn
    );
  }
  onSessionEnd(event) {
    const reason = eventMetadata(event)["reason"];
    const why = typeof reason === "string" && reason !== "" ? reason : "closed";
    if (why === "shutdown" && this.host.canRestore(this)) {
      this.needsRestore = true;
      return;
    }
    this.markClosed(why);
  }
  endOwn(error) {
    const own = this.finishOwn();
    own?.queue.end(error);
  }
  failWaiters(error) {
    for (const waiter of [...this.waiters]) {
      if (waiter.request === UserEvents.CANCEL || waiter.request === UserEvents.CLOSE_SESSION) waiter.resolve(null);
      else waiter.reject(error);
    }
  }
  /** @internal */
  markClosed(reason, error) {
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
  connectionFailed(error) {
    this.endOwn(error);
    this.failWaiters(error);
    this.settleReplay();
  }
  // -- confirmations --------------------------------------------------------------------------
  onConfirmRequest(event, override) {
    const request = confirmRequestOf(event, this.sessionId);
    if (request === null) return;
    const known = this.answers.get(request.stepId);
    if (known !== void 0) {
      if (known.generation !== null && known.generation < this.host.generation) {
        this.host.spawn(this.sendAnswer(request.stepId, known.answer));
      }
      return;
    }
    const handler = override ?? this.host.confirm;
    if (handler === void 0 || this.confirming.has(request.stepId)) return;
    this.confirming.add(request.stepId);
    this.host.spawn(this.autoConfirm(handler, request.stepId, request));
  }
  async autoConfirm(handler, stepId, request) {
    let answer;
    try {
      const result = await handler(request);
      answer = typeof result === "boolean" ? { confirmed: result } : result;
    } catch {
      answer = { confirmed: false, message: "the client's confirmation callback failed" };
    } finally {
      this.confirming.delete(stepId);
    }
    if (!this.closed && !this.answers.has(stepId)) {
      this.rememberAnswer(stepId, answer, null);
      await this.sendAnswer(stepId, answer);
    }
  }
  rememberAnswer(stepId, answer, generation) {
    this.answers.set(stepId, { answer, generation });
    while (this.answers.size > MAX_ANSWERS) {
      const oldest = this.answers.keys().next().value;
      if (oldest === void 0) break;
      this.answers.delete(oldest);
    }
  }
  async sendAnswer(stepId, answer) {
    const content = { confirmed: answer.confirmed };
    if (answer.message !== void 0) content["message"] = answer.message;
    if (answer.tasks !== void 0) content["tasks"] = answer.tasks;
    const frame = { event: UserEvents.RESPONSE, session_id: this.sessionId, step_id: stepId, content };
    const generation = await this.host.enqueue(frame, this);
    if (this.answers.has(stepId)) this.answers.set(stepId, { answer, generation });
  }
};

// src/transport.ts
var OPEN = 1;
function globalWebSocket() {
  const candidate = globalThis.WebSocket;
  return typeof candidate === "function" ? candidate : void 0;
}

// src/client.ts
var LinkLostError = class extends ClientConnectionError {
};
var AgentClient = class {
  url;
  confirm;
  requestTimeout;
  /** `metadata` of the server's `system.connected` greeting. */
  serverInfo = {};
  connectionId = null;
  /** Connections re-established after a loss. */
  reconnects = 0;
  status = "idle";
  /** @internal */
  generation = 0;
  options;
  emitter = new Emitter();
  sessionsById = /* @__PURE__ */ new Map();
  opening = [];
  orphans = /* @__PURE__ */ new Map();
  outbox = [];
  link = null;
  ready = false;
  readyWaiters = [];
  failure = null;
  closing = false;
  reconnecting = false;
  wake = null;
  ackTimer;
  ackDue = false;
  connecting = null;
  authWaiters = [];
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.confirm = options.confirm;
    this.requestTimeout = options.requestTimeout ?? 6e4;
  }
  // -- public API -------------------------------------------------------------------------------
  get connected() {
    return this.ready && this.link !== null && this.failure === null;
  }
  get sessions() {
    return [...this.sessionsById.values()];
  }
  /** Listen to `status`, `event` or `error`; returns a function that stops listening. */
  on(name, listener) {
    return this.emitter.on(name, listener);
  }
  /** Open the connection; rejects with `ClientConnectionError` (`AuthenticationError` for refused credentials). */
  connect() {
    if (this.connecting === null) {
      this.connecting = this.firstConnect().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }
  async firstConnect() {
    if (this.closing) throw new ClientConnectionError("the client is closed");
    if (this.link !== null) return this.waitLink().then(() => void 0);
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
  async close() {
    if (this.closing) return;
    this.closing = true;
    const link = this.link;
    if (link !== null && this.ready) this.sendAcks(link);
    clearTimeout(this.ackTimer);
    this.wake?.();
    if (link !== null) {
      clearTimeout(link.watchdog);
      link.ws.close(1e3, "client closed");
    }
    this.giveUp(new ClientConnectionError("the client is closed"));
  }
  /**
   * Present a fresh token on the open connection (`user.authenticate`), before the current one expires;
   * without an argument it is taken from the `token` option. Resolves when the server accepted it.
   */
  async authenticate(token) {
    const link = await this.waitLink();
    const source = this.options.token;
    const fresh = token ?? (typeof source === "function" ? await source() : source);
    if (fresh === void 0) throw new ClientConnectionError("no token to present");
    const accepted = new Promise((resolve, reject) => this.authWaiters.push({ resolve, reject }));
    this.sendOn(link, { event: UserEvents.AUTHENTICATE, content: { token: fresh } });
    await this.onLink(accepted, link);
  }
  /** Skip the rest of the backoff pause while reconnecting (e.g. on the browser's `online` event). */
  retryNow() {
    this.wake?.();
  }
  /** For tests and diagnostics: drop the socket as a network failure would (the client reconnects). */
  dropConnection() {
    const link = this.link;
    if (link === null) return;
    link.dropped = true;
    const ws = link.ws;
    if (typeof ws.terminate === "function") ws.terminate();
    else ws.close(4e3, "dropped by the client");
  }
  /** Create a session on the server (`user.create_session` → `agent.session_created`). */
  createSession() {
    return this.openSession(UserEvents.CREATE_SESSION, { event: UserEvents.CREATE_SESSION });
  }
  /**
   * Continue a conversation from a signed state (`user.reconnect_with_state`): usually a new session
   * (new id and token) holding the saved conversation; the original one if it is still alive here.
   */
  async restoreSession(signedState, options = {}) {
    const frame = { event: UserEvents.RECONNECT_WITH_STATE, signed_state: signedState };
    if (options.lastEventId !== void 0) frame["last_event_id"] = options.lastEventId;
    const session = await this.openSession(UserEvents.RECONNECT_WITH_STATE, frame);
    session.signedState = signedState;
    return session;
  }
  /**
   * Attach a session created elsewhere (an earlier page or process) and replay what came after
   * `lastSeq`; its subscribers get the replay. With `signedState`, a session the server no longer
   * knows is restored instead.
   */
  async resumeSession(sessionId, resumeToken, options = {}) {
    let lastSeq = options.lastSeq ?? 0;
    if (options.lastEventId !== void 0) lastSeq = parseEventId(options.lastEventId)?.[1] ?? 0;
    const existing = this.sessionsById.get(sessionId);
    if (existing !== void 0) return existing;
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
      await this.waitLink();
      session.checkUsable();
    }
    await session.whenReplayed();
    session.checkUsable();
    session.handedOver();
    return session;
  }
  // -- sending (SessionHost) -------------------------------------------------------------------
  /** @internal Queue `frame`; resolves with the generation of the connection it went out on. */
  enqueue(frame, session) {
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
  flush() {
    const link = this.link;
    if (!this.ready || link === null) return;
    const items = this.outbox;
    this.outbox = [];
    for (const item of items) {
      if (item.session !== void 0) {
        try {
          item.session.checkUsable();
        } catch (error) {
          item.reject(error);
          continue;
        }
        item.frame["session_id"] = item.session.sessionId;
      }
      this.sendOn(link, item.frame);
      item.resolve(link.generation);
    }
  }
  sendOn(link, frame) {
    if (link.ws.readyState === OPEN) link.ws.send(JSON.stringify(frame));
  }
  /** @internal */
  checkUsable() {
    if (this.failure !== null) throw this.failure;
  }
  /** @internal */
  announce(session, event) {
    this.report(this.emitter.emit("event", { session, event }));
  }
  /** @internal */
  afterFinalAnswer(session) {
    if (this.options.stateStore !== void 0) {
      this.spawn(session.exportState());
    }
  }
  /** @internal */
  async saveState(sessionId, state) {
    await this.options.stateStore?.save(sessionId, state);
  }
  /** @internal */
  canRestore(session) {
    return this.options.reconnect !== false && (session.signedState !== null || this.options.stateStore !== void 0);
  }
  /** @internal */
  forget(session) {
    if (this.sessionsById.get(session.sessionId) === session) this.sessionsById.delete(session.sessionId);
  }
  /** @internal A background promise: its failure is reported, never unhandled. */
  spawn(work) {
    work.catch((error) => {
      if (!(error instanceof ClientConnectionError)) this.report([error]);
    });
  }
  report(errors) {
    for (const error of errors) {
      if (this.emitter.has("error")) this.emitter.emit("error", error);
    }
  }
  // -- acknowledgements ------------------------------------------------------------------------
  /** @internal Acknowledge now, then at most once per `ackInterval`. */
  wantAck() {
    if (this.ackTimer !== void 0 || !this.ready || this.link === null) {
      this.ackDue = true;
      return;
    }
    this.ackDue = false;
    this.sendAcks(this.link);
    this.ackTimer = setTimeout(() => {
      this.ackTimer = void 0;
      if (this.ackDue) this.wantAck();
    }, this.options.ackInterval ?? 200);
  }
  sendAcks(link) {
    for (const session of this.sessionsById.values()) {
      if (session.lastSeq > session.ackedSeq && !session.closed) {
        session.ackedSeq = session.lastSeq;
        this.sendOn(link, { event: UserEvents.ACK, session_id: session.sessionId, last_event_id: session.lastEventId });
      }
    }
  }
  // -- opening sessions ------------------------------------------------------------------------
  async openSession(request, frame) {
    return new Promise((resolve, reject) => {
      let timer;
      const pending = {
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
        }
      };
      if (this.requestTimeout > 0) {
        timer = setTimeout(
          () => pending.reject(new RequestTimeoutError(`no answer to ${request} from the server`)),
          this.requestTimeout
        );
      }
      this.opening.push(pending);
      this.enqueue(frame).then(
        (generation) => {
          pending.generation = generation;
        },
        (error) => pending.reject(error)
      );
    });
  }
  dropOpening(request) {
    const index = this.opening.indexOf(request);
    if (index >= 0) this.opening.splice(index, 1);
    if (!this.opening.some((r) => r.request === UserEvents.RECONNECT_WITH_STATE)) this.orphans.clear();
  }
  /** The answer to a pending create/restore request: bind it to its `Session`. */
  bindOpened(event) {
    const created = event.event === AgentEvents.SESSION_CREATED;
    const wanted = created ? UserEvents.CREATE_SESSION : UserEvents.RECONNECT_WITH_STATE;
    const request = this.opening.find((r) => r.request === wanted);
    const sid = eventSessionId(event);
    if (request === void 0 || sid === void 0) return false;
    this.dropOpening(request);
    const token = eventMetadata(event)["resume_token"];
    let session;
    if (request.target !== null) {
      session = request.target;
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
  route(event) {
    const name = event.event;
    if (name === SystemEvents.HEARTBEAT || name === SystemEvents.CONNECTED) return;
    if ((name === AgentEvents.SESSION_CREATED || name === AgentEvents.STATE_RESTORED) && this.bindOpened(event)) return;
    const sid = eventSessionId(event);
    const session = sid === void 0 ? void 0 : this.sessionsById.get(sid);
    if (session === void 0) {
      if (sid !== void 0 && this.opening.some((r) => r.request === UserEvents.RECONNECT_WITH_STATE)) {
        const list = this.orphans.get(sid) ?? [];
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
  routeUnownedError(event) {
    const error = ClientProtocolError.fromEvent(event);
    const opening = this.opening.find((r) => r.request === error.requestEvent && r.target === null);
    if (opening !== void 0) {
      opening.reject(error);
      return;
    }
    const request = error.requestEvent;
    const candidates = request === void 0 ? [] : this.sessions.filter((s) => s.expects(request));
    if (candidates.length === 1) candidates[0]?.receiveError(event);
    else this.report([error]);
  }
  receive(link, data) {
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
        link.phase = "ready";
        link.greeted.resolve();
        return;
      }
    }
    if (this.answersAuthentication(frame)) return;
    try {
      this.route(frame);
    } catch (error) {
      this.report([error]);
    }
  }
  /** The answer to `authenticate()`: the `authenticate` notice, or an error about `user.authenticate`. */
  answersAuthentication(frame) {
    const meta = eventMetadata(frame);
    const waiter = this.authWaiters[0];
    if (waiter === void 0) return false;
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
  greet(link, frame) {
    if (frame.event !== SystemEvents.CONNECTED) {
      link.greeted.reject(new ClientConnectionError(`${this.url} did not greet with ${SystemEvents.CONNECTED}`));
      link.ws.close(1002, "no greeting");
      return;
    }
    this.serverInfo = eventMetadata(frame);
    const id = this.serverInfo["connection_id"];
    this.connectionId = typeof id === "string" ? id : null;
    this.kickWatchdog(link);
    if (link.phase === "greeting" && this.frameToken !== void 0) {
      link.phase = "authenticating";
      this.sendOn(link, { event: UserEvents.AUTHENTICATE, content: { token: this.frameToken } });
      return;
    }
    link.phase = "ready";
    link.greeted.resolve();
  }
  frameToken;
  // -- connection lifecycle --------------------------------------------------------------------
  async openLink() {
    const Socket = this.options.WebSocket ?? globalWebSocket();
    if (Socket === void 0) {
      const hint = "pass options.WebSocket or use @myagent/client/node";
      throw new ClientConnectionError(`no WebSocket implementation: ${hint}`);
    }
    const source = this.options.token;
    const token = typeof source === "function" ? await source() : source;
    const header = token !== void 0 && (this.options.authMode ?? "frame") === "header";
    this.frameToken = header ? void 0 : token;
    const ws = header ? new Socket(this.url, void 0, { headers: { Authorization: `Bearer ${token}` } }) : new Socket(this.url);
    this.generation += 1;
    let greeted;
    const done = new Promise((resolve, reject) => {
      greeted = { resolve, reject };
    });
    const link = {
      ws,
      generation: this.generation,
      phase: "greeting",
      lost: false,
      dropped: false,
      onLost: [],
      greeted,
      watchdog: void 0,
      error: ""
    };
    this.link = link;
    const timer = setTimeout(() => {
      link.greeted.reject(new ClientConnectionError(`no greeting from ${this.url} within the open timeout`));
      ws.close(1e3, "open timeout");
    }, this.options.openTimeout ?? 1e4);
    ws.onmessage = (message) => this.receive(link, message.data);
    ws.onerror = (event) => {
      const message = event.message;
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
  onClose(link, code) {
    link.lost = true;
    clearTimeout(link.watchdog);
    for (const callback of link.onLost.splice(0)) callback();
    if (link.phase !== "ready") link.greeted.reject(this.openFailure(link, code));
    if (link !== this.link) return;
    this.link = null;
    this.ready = false;
    if (this.closing || this.failure !== null || link.phase !== "ready") return;
    if (code === 4403 || code === 4401 && typeof this.options.token !== "function") {
      this.giveUp(new AuthenticationError(`the server refused the credentials (close code ${code})`, code));
    } else if (this.options.reconnect === false) {
      this.giveUp(new ConnectionLostError(`the connection to ${this.url} was lost (close code ${code})`, code));
    } else {
      void this.reconnectLoop();
    }
  }
  openFailure(link, code) {
    const status = /\b(401|403)\b/.exec(link.error)?.[1];
    if (code === 4401 || code === 4403 || status !== void 0) {
      const why = status !== void 0 ? `HTTP ${status}` : `close code ${code}`;
      const number = status !== void 0 ? Number(status) : code;
      return new AuthenticationError(`the server refused the credentials (${why})`, number);
    }
    const detail = link.error !== "" ? `: ${link.error}` : ` (close code ${code})`;
    return new ClientConnectionError(`cannot connect to ${this.url}${detail}`, code);
  }
  kickWatchdog(link) {
    clearTimeout(link.watchdog);
    const interval = this.serverInfo["heartbeat_interval"];
    const limit = this.options.heartbeatTimeout ?? (typeof interval === "number" && interval > 0 ? interval * 2500 + 5e3 : 0);
    if (limit <= 0) return;
    link.watchdog = setTimeout(() => {
      if (link === this.link) this.dropConnection();
    }, limit);
  }
  becomeReady() {
    this.ready = true;
    this.setStatus({ status: "open", attempt: 0 });
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.flush();
    this.wantAck();
  }
  waitLink() {
    this.checkUsable();
    if (this.ready && this.link !== null) return Promise.resolve(this.link);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject })).then(() => {
      this.checkUsable();
      if (this.link === null) throw new LinkLostError("the connection dropped");
      return this.link;
    });
  }
  async reconnectLoop() {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      await this.reconnectAttempts();
    } finally {
      this.reconnecting = false;
    }
  }
  async reconnectAttempts() {
    const random = this.options.random ?? Math.random;
    const limit = this.options.maxReconnectAttempts === void 0 ? 20 : this.options.maxReconnectAttempts;
    let delay = this.options.initialBackoff ?? 200;
    let lastError = null;
    for (let attempt = 1; ; attempt += 1) {
      if (this.closing || this.failure !== null) return;
      const wait = Math.round(delay * (0.5 + random() * 0.5));
      this.setStatus({ status: "reconnecting", attempt, retryIn: wait });
      await new Promise((resolve) => {
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
      delay = Math.min(this.options.maxBackoff ?? 1e4, delay * 2);
    }
  }
  async reattachAll(link) {
    const sessions = this.sessions.filter((s) => !s.closed);
    const results = await Promise.allSettled(sessions.map((s) => this.reattach(s, link)));
    if (link.lost) return false;
    results.forEach((result, index) => {
      const session = sessions[index];
      if (result.status === "fulfilled" || session === void 0) return;
      const error = result.reason instanceof ClientError ? result.reason : new ClientError(String(result.reason));
      session.markClosed(error instanceof ClientProtocolError ? error.code : "closed", error);
    });
    return true;
  }
  /** Re-attach `session` on `link` with `user.reconnect`; restore it from a signed state if the server lost it. */
  async reattach(session, link) {
    let refusal = null;
    if (!session.needsRestore) {
      const answer = session.awaitReconnect();
      this.sendOn(link, session.reconnectFrame());
      try {
        await this.onLink(answer, link);
        session.ackedSeq = 0;
        return;
      } catch (error) {
        if (!(error instanceof ClientProtocolError && error.code === "SESSION_NOT_FOUND")) throw error;
        refusal = error;
      }
    }
    const state = session.signedState ?? await this.options.stateStore?.load(session.sessionId) ?? null;
    if (state === null) {
      const message = `session ${session.sessionId} ended and no signed state is kept`;
      throw refusal ?? new SessionClosedError(message, "shutdown");
    }
    await this.restoreInto(session, state, link);
  }
  async restoreInto(session, state, link) {
    const frame = { event: UserEvents.RECONNECT_WITH_STATE, signed_state: state };
    const answer = new Promise((resolve, reject) => {
      const request = UserEvents.RECONNECT_WITH_STATE;
      this.opening.push({ request, frame, resolve, reject, target: session, generation: link.generation });
    });
    this.sendOn(link, frame);
    try {
      await this.onLink(answer, link);
    } finally {
      const pending = this.opening.find((r) => r.target === session);
      if (pending !== void 0) this.dropOpening(pending);
    }
  }
  /** `promise`, or a `LinkLostError` when `link` drops first, or a timeout. */
  onLink(promise, link) {
    return new Promise((resolve, reject) => {
      if (link.lost) {
        reject(new LinkLostError("the connection dropped while waiting for an answer"));
        return;
      }
      const timer = this.requestTimeout > 0 ? setTimeout(() => reject(new RequestTimeoutError("no answer from the server")), this.requestTimeout) : void 0;
      link.onLost.push(() => reject(new LinkLostError("the connection dropped while waiting for an answer")));
      promise.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }
  resendOpening(link) {
    for (const request of this.opening) {
      if (request.target === null && request.generation < link.generation) {
        request.generation = link.generation;
        this.sendOn(link, request.frame);
      }
    }
  }
  giveUp(error) {
    if (this.failure === null) this.failure = error;
    for (const session of this.sessionsById.values()) session.connectionFailed(error);
    for (const request of this.opening.splice(0)) request.reject(error);
    for (const item of this.outbox.splice(0)) item.reject(error);
    for (const waiter of [...this.readyWaiters.splice(0), ...this.authWaiters.splice(0)]) waiter.reject(error);
    clearTimeout(this.ackTimer);
    this.setStatus({ status: "closed", attempt: 0, ...this.closing ? {} : { error } });
  }
  setStatus(change) {
    this.status = change.status;
    this.report(this.emitter.emit("status", change));
  }
};

// src/state-store.ts
var MemoryStateStore = class {
  states = /* @__PURE__ */ new Map();
  save(sessionId, state) {
    this.states.set(sessionId, state);
  }
  load(sessionId) {
    return this.states.get(sessionId) ?? null;
  }
};
var WebStorageStateStore = class {
  constructor(storage, prefix = "myagent.state.") {
    this.storage = storage;
    this.prefix = prefix;
  }
  save(sessionId, state) {
    this.storage.setItem(this.prefix + sessionId, JSON.stringify(state));
  }
  load(sessionId) {
    const text = this.storage.getItem(this.prefix + sessionId);
    if (text === null) return null;
    try {
      const value = JSON.parse(text);
      return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
    } catch {
      return null;
    }
  }
  remove(sessionId) {
    this.storage.removeItem(this.prefix + sessionId);
  }
};

export { AgentClient, AgentEvents, AggregateEvents, AuthenticationError, ClientConnectionError, ClientError, ClientProtocolError, ConnectionLostError, ERROR_CODES, MemoryStateStore, NoticeActions, PipelineEvents, PlanEvents, REQUEST_ERROR_EVENTS, RUN_CLOSING_EVENTS, RequestTimeoutError, RunFailedError, RunInterruptedError, RunLostError, RunStream, Session, SessionClosedError, SessionTakenOverError, SolverEvents, SystemEvents, ToolStatuses, UNSEQUENCED_REQUEST_ERROR_EVENTS, UserEvents, WebStorageStateStore, closesRun, eventMetadata, eventSeq, eventText, formatEventId, isFinal, isRequestError, parseEventId };

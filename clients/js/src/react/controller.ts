/**
 * The part of `useAgentSession` that needs no React: it owns the client, opens or resumes the session,
 * feeds every event into the store through `reduce`, keeps the session in storage, and carries out the
 * user's actions. `useAgentSession` only subscribes to its store.
 */
import {
  AgentClient,
  type AgentClientOptions,
  ClientError,
  ClientProtocolError,
  type ServerEvent,
  type Session,
  type SignedState,
  type StateStore,
  type StorageLike,
} from "@myagent/client";
import {
  addUserMessage,
  clientError,
  expireConfirmations,
  markResponded,
  markTaskControl,
  nextExpiry,
  revived,
  setConnection,
} from "./local.js";
import { clearSaved, loadSaved, type SavedSession, storeSaved } from "./persist.js";
import { messageRejected, reduce } from "./reduce.js";
import { type AgentSessionState, initialState, type TaskId } from "./state.js";
import { type Scheduler, SessionStore } from "./store.js";

export interface AgentSessionOptions {
  /** The server, e.g. `ws://localhost:8080`. */
  url: string;
  /** Options of the `AgentClient` the hook creates (`token`, `WebSocket`, backoff...). */
  clientOptions?: AgentClientOptions;
  /** Where the session is kept across reloads (default `localStorage`; `null`: nowhere). */
  storage?: StorageLike | null;
  /** The storage key (default `myagent.react:` + url). */
  storageKey?: string;
  /** When React hears of streamed changes (default: once per animation frame; `null`: at once). */
  schedule?: Scheduler | null;
  /** Milliseconds between saves of the conversation while it changes (default 300). */
  saveDelay?: number;
}

interface Attachment {
  client: AgentClient;
  session: Session | null;
  opening: Promise<Session | null>;
  /** Listeners of the client and the page. */
  stop: Array<() => void>;
  /** Listeners of the current session. */
  stopSession: Array<() => void>;
  closed: boolean;
}

export class AgentSessionController {
  readonly store: SessionStore;
  private readonly key: string;
  private saved: SavedSession | null;
  private attachment: Attachment | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryAt: number | null = null;

  constructor(
    readonly options: AgentSessionOptions,
    private readonly storage: StorageLike | null,
  ) {
    this.key = options.storageKey ?? `myagent.react:${options.url}`;
    this.saved = loadSaved(storage, this.key);
    const view = this.saved?.view;
    this.store = new SessionStore(view ? revived(view) : initialState(), options.schedule);
  }

  get client(): AgentClient | null {
    return this.attachment?.client ?? null;
  }

  get session(): Session | null {
    return this.attachment?.session ?? null;
  }

  // -- lifecycle ---------------------------------------------------------------------------------

  /** Connect, then resume the saved session (or restore it from its signed state, or create one). */
  start(): void {
    if (this.attachment !== null && !this.attachment.closed) return;
    const stateStore: StateStore = {
      save: (_sessionId: string, state: SignedState) => this.keepSignedState(state),
      load: () => this.saved?.signedState ?? null,
    };
    const client = new AgentClient(this.options.url, { ...this.options.clientOptions, stateStore });
    const attachment: Attachment = {
      client,
      session: null,
      opening: Promise.resolve(null),
      stop: [],
      stopSession: [],
      closed: false,
    };
    this.attachment = attachment;
    attachment.stop.push(
      client.on("status", ({ status, error }) => {
        const shown = status === "closed" && error !== undefined ? "failed" : status;
        this.store.update((s) => setConnection(s, shown), { urgent: true });
      }),
    );
    attachment.opening = this.open(attachment);
    // The last changes before the page goes away (a reload, a closed tab).
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void; removeEventListener?: (type: string, listener: () => void) => void };
    if (typeof target.addEventListener === "function") {
      const onHide = (): void => this.save();
      target.addEventListener("pagehide", onHide);
      attachment.stop.push(() => target.removeEventListener?.("pagehide", onHide));
    }
  }

  /** Try to connect now: skip the backoff pause while reconnecting; start over once the client gave up. */
  reconnect(): void {
    const attachment = this.attachment;
    if (attachment !== null && !attachment.closed && attachment.client.status === "reconnecting") {
      attachment.client.retryNow();
      return;
    }
    if (this.store.state.connection !== "failed" && this.store.state.connection !== "closed") return;
    this.dispose(); // saves: the next client resumes (or restores) the same session
    this.start();
  }

  /** Close the connection (the server keeps the session for its grace period) and save. */
  dispose(): void {
    this.save(); // while the session is still known
    const attachment = this.attachment;
    this.attachment = null;
    clearTimeout(this.saveTimer);
    clearTimeout(this.expiryTimer);
    this.expiryAt = null;
    this.store.dispose();
    if (attachment === null) return;
    attachment.closed = true;
    for (const stop of [...attachment.stop, ...attachment.stopSession]) stop();
    void attachment.client.close().catch(() => undefined);
  }

  private async open(attachment: Attachment): Promise<Session | null> {
    try {
      await attachment.client.connect();
      const session = await this.openSession(attachment.client);
      if (attachment.closed) return null;
      this.attach(attachment, session);
      return session;
    } catch (error) {
      if (!attachment.closed) this.store.update((s) => clientError(s, describe(error)), { urgent: true });
      return null;
    }
  }

  private async openSession(client: AgentClient): Promise<Session> {
    const saved = this.saved;
    if (saved !== null) {
      const lastSeq = this.store.state.sessionId === saved.sessionId ? this.store.state.lastSeq : 0;
      const signedState = saved.signedState ?? undefined;
      try {
        return await client.resumeSession(saved.sessionId, saved.resumeToken, { lastSeq, signedState });
      } catch (error) {
        if (!(error instanceof ClientProtocolError) || saved.signedState === null) throw error;
        // The token no longer works (or the session is gone): the signed state still holds the conversation.
        return await client.restoreSession(saved.signedState);
      }
    }
    return client.createSession();
  }

  private attach(attachment: Attachment, session: Session): void {
    attachment.session = session;
    if (session.created !== null) this.receive(session.created);
    attachment.stopSession.push(
      session.subscribe((event) => this.receive(event)),
      session.on("restored", () => this.save()),
    );
    this.save();
  }

  private receive(event: ServerEvent): void {
    this.store.update((s) => reduce(s, event));
    this.scheduleSave();
    this.watchExpiry();
  }

  // -- actions -----------------------------------------------------------------------------------

  private async ready(): Promise<Session> {
    const attachment = this.attachment;
    const session = attachment === null ? null : (attachment.session ?? (await attachment.opening));
    if (session === null) throw new ClientError("not connected to the agent server");
    return session;
  }

  /** Send `text`; resolves when the run ended (its events are in the state). */
  async send(text: string): Promise<void> {
    if (text.trim() === "") return;
    this.store.update((s) => addUserMessage(s, text, Date.now()), { urgent: true });
    this.save();
    try {
      const session = await this.ready();
      for await (const _event of session.send(text)) {
        // The subscription already put every event in the state; this only waits for the end.
      }
    } catch (error) {
      const local = !(error instanceof ClientProtocolError) || error.local;
      // A server's refusal is an event the reducer has seen; a local one (not connected, busy) is not.
      if (local) this.store.update((s) => messageRejected(clientError(s, describe(error)), describe(error)), { urgent: true });
    }
  }

  /** Stop the run in progress; true once the server confirmed. */
  async stop(): Promise<boolean> {
    try {
      return await (await this.ready()).cancel();
    } catch (error) {
      this.store.update((s) => clientError(s, describe(error)), { urgent: true });
      return false;
    }
  }

  /** Answer the pending confirmation. */
  async respond(confirmed: boolean, options: { message?: string; tasks?: unknown[] } = {}): Promise<void> {
    const pending = this.store.state.confirmation;
    if (pending === null) return;
    this.store.update((s) => markResponded(s, pending.stepId, confirmed), { urgent: true });
    try {
      await (await this.ready()).confirm(pending.stepId, confirmed, options);
    } catch (error) {
      this.store.update((s) => clientError(s, describe(error)), { urgent: true });
    }
  }

  /** Cancel or restart one Plan & Solve task; true when the server did. */
  async controlTask(taskId: TaskId, control: "cancel" | "restart"): Promise<boolean> {
    this.store.update((s) => markTaskControl(s, taskId, control), { urgent: true });
    let ok = false;
    try {
      const session = await this.ready();
      ok = await (control === "cancel" ? session.cancelTask(taskId) : session.restartTask(taskId));
    } catch (error) {
      this.store.update((s) => clientError(s, describe(error)), { urgent: true });
    }
    if (!ok) this.store.update((s) => markTaskControl(s, taskId, null), { urgent: true });
    return ok;
  }

  async cancelPlan(): Promise<boolean> {
    return (await this.ready()).cancelPlan();
  }

  async replan(question?: string): Promise<boolean> {
    return (await this.ready()).replan(question);
  }

  /** Forget the conversation and start a new session. */
  async reset(): Promise<void> {
    clearSaved(this.storage, this.key);
    this.saved = null;
    const connection = this.store.state.connection;
    this.store.update(() => ({ ...initialState(), connection }), { urgent: true });
    const attachment = this.attachment;
    if (attachment === null) return;
    for (const stop of attachment.stopSession.splice(0)) stop();
    attachment.session = null;
    attachment.opening = attachment.client.createSession().then(
      (session) => {
        if (!attachment.closed) this.attach(attachment, session);
        return session;
      },
      (error: unknown) => {
        this.store.update((s) => clientError(s, describe(error)), { urgent: true });
        return null;
      },
    );
    await attachment.opening;
  }

  // -- storage and timers ------------------------------------------------------------------------

  private keepSignedState(state: SignedState): void {
    if (this.saved !== null) this.saved = { ...this.saved, signedState: state };
    this.save(state);
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, this.options.saveDelay ?? 300);
  }

  /** Keep the session, its signed state and the conversation now. */
  save(signedState: SignedState | null = this.saved?.signedState ?? null): void {
    const session = this.attachment?.session ?? null;
    if (session === null) return; // nothing new to keep: what was loaded stays as it was
    this.saved = {
      format: 1,
      url: this.options.url,
      sessionId: session.sessionId,
      resumeToken: session.resumeToken,
      signedState, // after a restore too: it still holds the conversation until the next export
      view: this.store.state,
      savedAt: Date.now(),
    };
    storeSaved(this.storage, this.key, this.saved);
  }

  /** A timer for the next confirmation to expire, so the dialog closes on time even if the server is silent. */
  private watchExpiry(): void {
    const at = nextExpiry(this.store.state);
    if (at === this.expiryAt) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    if (at === null) return;
    // Timers longer than 2^31-1 ms fire at once; an expiry that far away needs no timer yet.
    const delay = Math.min(Math.max(0, at - Date.now()), 2_147_483_647);
    this.expiryTimer = setTimeout(() => {
      this.expiryAt = null;
      this.store.update((s) => expireConfirmations(s, Date.now()), { urgent: true });
      this.watchExpiry();
    }, delay);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export type { AgentSessionState };

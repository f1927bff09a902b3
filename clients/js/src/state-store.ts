/** Where the client keeps signed session states (docs/state.md) for automatic restores. */

/** A signed session state as the server exports it (`agent.state_exported`); opaque to the client. */
export type SignedState = Record<string, unknown>;

/**
 * Keeps the latest signed state of each session, by session id. With `stateStore` the client saves a
 * state after every final answer and loads it when a session it resumes no longer exists on the server.
 * Either method may return a promise.
 */
export interface StateStore {
  save(sessionId: string, state: SignedState): void | Promise<void>;
  load(sessionId: string): SignedState | null | undefined | Promise<SignedState | null | undefined>;
}

/** States in a `Map`: survives reconnects and server restarts, not the page or process. */
export class MemoryStateStore implements StateStore {
  readonly states = new Map<string, SignedState>();

  save(sessionId: string, state: SignedState): void {
    this.states.set(sessionId, state);
  }

  load(sessionId: string): SignedState | null {
    return this.states.get(sessionId) ?? null;
  }
}

/** The part of the Web Storage API the store uses (`localStorage`, `sessionStorage`). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** States in Web Storage (e.g. `localStorage`) under `prefix + sessionId`; survives a page reload. */
export class WebStorageStateStore implements StateStore {
  constructor(
    readonly storage: StorageLike,
    readonly prefix = "myagent.state.",
  ) {}

  save(sessionId: string, state: SignedState): void {
    this.storage.setItem(this.prefix + sessionId, JSON.stringify(state));
  }

  load(sessionId: string): SignedState | null {
    const text = this.storage.getItem(this.prefix + sessionId);
    if (text === null) return null;
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as SignedState) : null;
    } catch {
      return null; // a damaged entry is no state
    }
  }

  remove(sessionId: string): void {
    this.storage.removeItem(this.prefix + sessionId);
  }
}

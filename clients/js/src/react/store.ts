/**
 * The session state behind `useAgentSession`, with render throttling: events update the state at once,
 * but subscribers (React) hear of it at most once per animation frame, so a fast stream of text deltas
 * costs one render per frame instead of one per delta. The user's own actions publish immediately.
 */
import type { AgentSessionState } from "./state.js";

/** Runs `flush` later: once per animation frame by default. */
export type Scheduler = (flush: () => void) => () => void;

interface FrameGlobals {
  requestAnimationFrame?: (callback: () => void) => number;
  cancelAnimationFrame?: (handle: number) => void;
}

/** Next animation frame where there is one (browsers), else a 16 ms timer (Node, tests). */
export const animationFrame: Scheduler = (flush) => {
  const g = globalThis as FrameGlobals;
  if (typeof g.requestAnimationFrame === "function" && typeof g.cancelAnimationFrame === "function") {
    const handle = g.requestAnimationFrame(flush);
    return () => g.cancelAnimationFrame?.(handle);
  }
  const timer = setTimeout(flush, 16);
  return () => clearTimeout(timer);
};

/** A scheduler that waits `ms` milliseconds (`0`: publish on the next macrotask). */
export function every(ms: number): Scheduler {
  return (flush) => {
    const timer = setTimeout(flush, ms);
    return () => clearTimeout(timer);
  };
}

export class SessionStore {
  private current: AgentSessionState;
  private published: AgentSessionState;
  private readonly listeners = new Set<() => void>();
  private cancelFlush: (() => void) | null = null;
  /** Times subscribers were told of a change (for tests and diagnostics). */
  publishCount = 0;

  constructor(
    initial: AgentSessionState,
    private readonly schedule: Scheduler | null = animationFrame,
  ) {
    this.current = initial;
    this.published = initial;
  }

  /** The latest state (including changes not yet published). */
  get state(): AgentSessionState {
    return this.current;
  }

  /** The state subscribers last heard of (`useSyncExternalStore`'s snapshot). */
  readonly getSnapshot = (): AgentSessionState => this.published;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Apply `change`; publish now when `urgent` (the user's own action), else with the next flush. */
  update(change: (state: AgentSessionState) => AgentSessionState, { urgent = false } = {}): void {
    const next = change(this.current);
    if (next === this.current) return;
    this.current = next;
    if (urgent || this.schedule === null) this.flush();
    else this.cancelFlush ??= this.schedule(() => this.flush());
  }

  /** Publish what changed since the last flush. */
  flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    if (this.published === this.current) return;
    this.published = this.current;
    this.publishCount += 1;
    for (const listener of [...this.listeners]) listener();
  }

  dispose(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
  }
}

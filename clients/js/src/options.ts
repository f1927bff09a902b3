/** The options of `AgentClient` and what it tells its listeners. */
import type { ClientError } from "./errors.js";
import type { ServerEvent } from "./generated/events.js";
import type { ConfirmCallback } from "./run.js";
import type { Session } from "./session.js";
import type { StateStore } from "./state-store.js";
import type { WebSocketConstructor } from "./transport.js";

export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** A bearer token, or a function giving a fresh one for each connection. */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface AgentClientOptions {
  /** The WebSocket implementation (default: the global `WebSocket`; `@myagent/client/node` uses `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Credentials for a server with authentication (docs/security.md). */
  token?: TokenSource;
  /** `header`: `Authorization: Bearer` at the handshake (Node with `ws`); `frame`: a first `user.authenticate`. */
  authMode?: "header" | "frame";
  /** At most one `user.ack` per session per this many ms (default 200). */
  ackInterval?: number;
  /** Reconnect and resume every session when the connection drops (default true). */
  reconnect?: boolean;
  /** First pause before reconnecting, in ms (default 200); doubled after each failed attempt, with jitter. */
  initialBackoff?: number;
  /** Longest pause between reconnect attempts, in ms (default 10000). */
  maxBackoff?: number;
  /** Give up after this many failed attempts in a row (default 20; `null`: never). */
  maxReconnectAttempts?: number | null;
  /** Answers `agent.user_confirm` automatically. */
  confirm?: ConfirmCallback;
  /** Saves each session's signed state after every final answer; loaded to restore a session the server lost. */
  stateStore?: StateStore;
  /** ms to wait for the answer to a request (default 60000; 0: no limit). */
  requestTimeout?: number;
  /** ms for the WebSocket handshake and the server's greeting (default 10000). */
  openTimeout?: number;
  /** ms without any frame after which the connection counts as dead (default: 2.5 heartbeat intervals + 5 s). */
  heartbeatTimeout?: number;
  /** Random numbers in [0, 1) for the backoff jitter (tests pass a fixed one). */
  random?: () => number;
}

export interface StatusChange {
  status: ConnectionStatus;
  /** Reconnect attempt (1, 2, ...) while `reconnecting`. */
  attempt: number;
  /** ms until the next attempt while `reconnecting`. */
  retryIn?: number;
  /** Why the client is `closed`, unless `close()` was called. */
  error?: ClientError;
}

export interface ClientEvents extends Record<string, unknown> {
  status: StatusChange;
  /** Every event of every session, once, in order. */
  event: { session: Session; event: ServerEvent };
  /** Errors not tied to a request (a server error about a frame nobody waits for, a failing listener). */
  error: unknown;
}

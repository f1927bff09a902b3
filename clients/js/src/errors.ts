/**
 * Errors the client raises on purpose; every one derives from `ClientError`:
 *
 * ```text
 * ClientError
 * ├── ClientProtocolError      the server rejected a request; carries its code
 * ├── RunFailedError           a run ended with agent.error (ask)
 * ├── RunInterruptedError      a run ended with agent.interrupted (ask)
 * ├── RunLostError             the outcome of a run is unknown (its session expired mid-run)
 * ├── RequestTimeoutError      no answer within `requestTimeout`
 * ├── SessionClosedError       the session ended (closed, shut down, expired)
 * │   └── SessionTakenOverError  another connection resumed the session
 * └── ClientConnectionError    no connection to the server
 *     ├── AuthenticationError  the server refused the credentials (HTTP 401/403, close 4401/4403)
 *     └── ConnectionLostError  the connection dropped and could not be re-established
 * ```
 */
import type { ServerEvent } from "./generated/events.js";
import { eventMetadata, eventText } from "./frames.js";

export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server answered a request with an error frame (or the client refused it without sending it). */
export class ClientProtocolError extends ClientError {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly options: {
      details?: Record<string, unknown>;
      requestEvent?: string | undefined;
      sessionId?: string | undefined;
      local?: boolean;
    } = {},
  ) {
    super(`${code}: ${detail}`);
  }

  get requestEvent(): string | undefined {
    return this.options.requestEvent;
  }

  get details(): Record<string, unknown> {
    return this.options.details ?? {};
  }

  /** True when the client refused the request without sending it. */
  get local(): boolean {
    return this.options.local ?? false;
  }

  static fromEvent(event: ServerEvent): ClientProtocolError {
    const meta = eventMetadata(event);
    const details = meta["details"];
    const code = typeof meta["error_code"] === "string" ? meta["error_code"] : "INTERNAL_ERROR";
    return new ClientProtocolError(code, eventText(event), {
      details: isObject(details) ? details : {},
      requestEvent: typeof meta["request_event"] === "string" ? meta["request_event"] : undefined,
      sessionId: "session_id" in event && typeof event.session_id === "string" ? event.session_id : undefined,
    });
  }
}

/** A run ended with `agent.error`; `code` is its `metadata.error_code`. */
export class RunFailedError extends ClientError {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly event: ServerEvent,
  ) {
    super(`${code}: ${detail}`);
  }
}

/** A run ended with `agent.interrupted`; `reason` is e.g. `user_cancel`. */
export class RunInterruptedError extends ClientError {
  constructor(
    readonly reason: string,
    readonly event: ServerEvent,
  ) {
    super(`the run was interrupted (${reason})`);
  }
}

/** The run's outcome cannot be known: the session expired (and was restored) while it ran. */
export class RunLostError extends ClientError {}

/** No answer to a request within the client's `requestTimeout`. */
export class RequestTimeoutError extends ClientError {}

/** The session has ended; `reason` is `closed`, `shutdown`, `expired`, `taken_over`... */
export class SessionClosedError extends ClientError {
  constructor(
    message: string,
    readonly reason: string = "closed",
  ) {
    super(message);
  }
}

/** Another connection resumed the session with its token; this client no longer receives it. */
export class SessionTakenOverError extends SessionClosedError {}

/** The client has no connection to the server (it could not connect, or it was closed). */
export class ClientConnectionError extends ClientError {
  constructor(
    message: string,
    /** The WebSocket close code or HTTP status, when there was one. */
    readonly code?: number,
  ) {
    super(message);
  }
}

/** The server refused the credentials: HTTP 401/403 at the handshake, or close 4401/4403. */
export class AuthenticationError extends ClientConnectionError {}

/** The connection dropped and reconnecting failed (or is disabled). */
export class ConnectionLostError extends ClientConnectionError {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

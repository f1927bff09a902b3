/** The events of one run, and where a run ends. */
import type { ServerEvent } from "./generated/events.js";
import { AgentEvents, PlanEvents } from "./generated/protocol.js";
import { RunFailedError, RunInterruptedError, RunLostError } from "./errors.js";
import { eventMetadata, eventText, isFinal } from "./frames.js";
import { AsyncQueue } from "./queue.js";

/**
 * The events of one run, in order, the one that ends it last (`agent.final_answer`, `agent.error`,
 * `agent.interrupted` or `pipeline.tasks_completed`). Iterate it with `for await`; an error the server
 * reports about the request (e.g. `SESSION_BUSY`) is thrown while iterating.
 */
export class RunStream implements AsyncIterable<ServerEvent>, AsyncIterator<ServerEvent> {
  /** @internal */
  readonly queue = new AsyncQueue<ServerEvent>();

  next(): Promise<IteratorResult<ServerEvent>> {
    return this.queue.next();
  }

  /** Stop reading (the run goes on; the session's subscribers still see its events). */
  return(): Promise<IteratorResult<ServerEvent>> {
    this.queue.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<ServerEvent> {
    return this;
  }

  /** Every remaining event of the run. */
  async collect(): Promise<ServerEvent[]> {
    const events: ServerEvent[] = [];
    for await (const event of this) events.push(event);
    return events;
  }
}

/** A run this client started (`user.message`, `user.solve_tasks`); `started` once it produced an event. */
export interface OwnRun {
  stream: RunStream;
  frame: Record<string, unknown>;
  /** `lastSeq` when it was sent: later run events are its own (unless another run was in progress). */
  mark: number;
  confirm: ConfirmCallback | undefined;
  generation: number;
  started: boolean;
  /** `SESSION_BUSY` answers retried so far (see `Session.receiveError`). */
  busyRetries: number;
}

/** A confirmation request as the application sees it. */
export interface ConfirmRequest {
  sessionId: string;
  stepId: string;
  toolName: string;
  toolArgs: unknown;
  toolDescription: string;
  /** `tool`, or `plan` for a plan confirmation (answer with `tasks` to edit it). */
  scope: string;
  /** When an unanswered request expires (ISO 8601), if the server says. */
  expiresAt: string | undefined;
  event: ServerEvent;
}

/** An answer to a confirmation; `tasks` is the edited task list of a plan confirmation. */
export interface ConfirmAnswer {
  confirmed: boolean;
  message?: string;
  tasks?: unknown[];
}

/** Answers confirmations automatically (sync or async). */
export type ConfirmCallback = (request: ConfirmRequest) => boolean | ConfirmAnswer | Promise<boolean | ConfirmAnswer>;

export function confirmRequestOf(event: ServerEvent, sessionId: string): ConfirmRequest | null {
  if (event.event !== AgentEvents.USER_CONFIRM || typeof event.step_id !== "string") return null;
  const meta = eventMetadata(event);
  const str = (value: unknown, fallback = ""): string => (typeof value === "string" ? value : fallback);
  return {
    sessionId,
    stepId: event.step_id,
    toolName: str(meta["tool_name"]),
    toolArgs: meta["tool_args"],
    toolDescription: str(meta["tool_description"]),
    scope: str(meta["scope"], "tool"),
    expiresAt: typeof meta["expires_at"] === "string" ? meta["expires_at"] : undefined,
    event,
  };
}

/** Whether a run event ends the run: a closing event, or a plan refused before a direct-mode run began. */
export function endsRun(event: ServerEvent, planned: boolean): boolean {
  return isFinal(event) || (!planned && event.event === PlanEvents.COERCION_ERROR);
}

/** The final answer of a run's last event, or the error that says why there is none. */
export function answerOf(last: ServerEvent | undefined): string {
  if (last === undefined) throw new RunLostError("the run produced no event");
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

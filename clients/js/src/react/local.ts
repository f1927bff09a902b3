/** Transitions caused by the user or the connection rather than by a server event. Pure functions. */
import { updateTask } from "./plan.js";
import type { AgentSessionState, ConnectionStatus, TaskId, ToolCall } from "./state.js";
import { openTurn } from "./state.js";

/** The user sent `text`: it is shown at once, with an assistant turn waiting for the run's events. */
export function addUserMessage(state: AgentSessionState, text: string, at: number): AgentSessionState {
  const user = { id: `u${state.nextId}`, role: "user" as const, text, at, error: null };
  const turn = {
    id: `a${state.nextId + 1}`,
    role: "assistant" as const,
    at,
    parts: [],
    status: "running" as const,
    error: null,
    end: null,
  };
  // A turn left open (its run's end never came) is closed as unfinished before the next one.
  const messages = state.messages.map((m) =>
    m.role === "assistant" && m.status === "running" ? { ...m, status: "unfinished" as const } : m,
  );
  return { ...state, messages: [...messages, user, turn], busy: true, error: null, nextId: state.nextId + 2 };
}

/** The user answered confirmation `stepId`: the dialog closes and its call shows the answer. */
export function markResponded(state: AgentSessionState, stepId: string, confirmed: boolean): AgentSessionState {
  const confirmation = state.confirmation?.stepId === stepId ? null : state.confirmation;
  let tools = state.tools;
  for (const call of Object.values(tools)) {
    if (call.confirmStepId === stepId && call.status === "awaiting_approval") {
      tools = { ...tools, [call.key]: { ...call, status: confirmed ? "approved" : "refused", expiresAt: null } };
    }
  }
  let plan = state.plan;
  if (plan !== null && state.confirmation?.scope === "plan" && state.confirmation.stepId === stepId) {
    plan = { ...plan, phase: confirmed ? "planned" : "cancelled" };
  }
  return { ...state, confirmation, tools, plan };
}

/** Confirmations whose time is up at `now` count as refused (the server says `expired` too). */
export function expireConfirmations(state: AgentSessionState, now: number): AgentSessionState {
  const expired = (call: ToolCall): boolean =>
    call.status === "awaiting_approval" && call.expiresAt !== null && call.expiresAt <= now;
  const calls = Object.values(state.tools).filter(expired);
  const confirmation =
    state.confirmation !== null && state.confirmation.expiresAt !== null && state.confirmation.expiresAt <= now
      ? null
      : state.confirmation;
  if (calls.length === 0 && confirmation === state.confirmation) return state;
  const tools = { ...state.tools };
  for (const call of calls) tools[call.key] = { ...call, status: "expired" };
  return { ...state, tools, confirmation };
}

/** The earliest time a confirmation expires, for a timer; `null` when none is open. */
export function nextExpiry(state: AgentSessionState): number | null {
  let next: number | null = null;
  for (const call of Object.values(state.tools)) {
    if (call.status === "awaiting_approval" && call.expiresAt !== null) {
      next = next === null ? call.expiresAt : Math.min(next, call.expiresAt);
    }
  }
  const own = state.confirmation?.expiresAt ?? null;
  return own !== null && (next === null || own < next) ? own : next;
}

export function setConnection(state: AgentSessionState, connection: ConnectionStatus): AgentSessionState {
  return state.connection === connection ? state : { ...state, connection };
}

/** The user asked to cancel or restart a task; cleared by the server's acknowledgement. */
export function markTaskControl(
  state: AgentSessionState,
  taskId: TaskId,
  control: "cancel" | "restart" | null,
): AgentSessionState {
  if (state.plan === null) return state;
  return { ...state, plan: updateTask(state.plan, taskId, { control }) };
}

/** A request failed before reaching the server (no connection, a client-side error). */
export function clientError(state: AgentSessionState, message: string, code: string | null = null): AgentSessionState {
  return { ...state, error: { code, message, requestEvent: null } };
}

export function clearError(state: AgentSessionState): AgentSessionState {
  return state.error === null ? state : { ...state, error: null };
}

/** The state a reload starts from: the saved conversation, not yet connected. A turn that was open stays
 * open: the replay after the resume either continues it or, when the session is gone, closes it. */
export function revived(state: AgentSessionState): AgentSessionState {
  return { ...state, connection: "idle", error: null, confirmation: openTurn(state) ? state.confirmation : null };
}

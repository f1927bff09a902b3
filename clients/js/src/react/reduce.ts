/**
 * `reduce(state, event) → state`: the session's screen state after one server event. Pure and
 * idempotent for sequenced events (one at or below `lastSeq` changes nothing), so replaying a session's
 * events after a reload on top of the saved state is safe.
 */
import type { ServerEvent } from "@myagent/client";
import {
  AgentEvents,
  closesRun,
  isRequestError,
  NoticeActions,
  SystemEvents,
  ToolStatuses,
  UserEvents,
} from "@myagent/client";
import { isPlanEvent, reducePlan, settlePlan, updateTask } from "./plan.js";
import {
  contentText,
  type Frame,
  isObject,
  metaOf,
  num,
  seqOf,
  str,
  strOrNull,
  taskIdOf,
  timeOf,
} from "./read.js";
import type {
  AgentSessionState,
  AssistantMessage,
  MessagePart,
  PendingConfirmation,
  RequestError,
  ToolCall,
  ToolCallStatus,
  TurnStatus,
} from "./state.js";
import { openTurn } from "./state.js";

/** The state after `event`. Unknown and malformed events change nothing. */
export function reduce(state: AgentSessionState, event: ServerEvent): AgentSessionState {
  const frame = event as unknown as Frame;
  if (!isObject(frame) || typeof frame.event !== "string") return state;
  const seq = seqOf(frame);
  if (seq !== null) {
    const sessionId = strOrNull(frame.session_id);
    if (sessionId !== null && state.sessionId !== null && sessionId !== state.sessionId) {
      // Only a new session (created, or restored under a new id) replaces the one we show.
      if (frame.event !== AgentEvents.SESSION_CREATED && frame.event !== AgentEvents.STATE_RESTORED) return state;
      state = { ...state, sessionId, lastSeq: 0 };
    }
    if (seq <= state.lastSeq && (sessionId === null || sessionId === state.sessionId)) return state; // a repeat
    state = { ...state, sessionId: sessionId ?? state.sessionId, lastSeq: seq };
  }
  return apply(state, frame, seq);
}

const ACTIVITY = new Set<string>([
  AgentEvents.THINKING,
  AgentEvents.TOOL_CALL,
  AgentEvents.USER_CONFIRM,
  AgentEvents.TOOL_RESULT,
  AgentEvents.PARTIAL_ANSWER,
]);

function apply(state: AgentSessionState, frame: Frame, seq: number | null): AgentSessionState {
  const event = frame.event;
  const meta = metaOf(frame);
  if (isRequestError({ event, seq })) return requestError(state, frame);
  // Everything a session's agent does is sequenced; of the rest only notices concern the screen.
  if (seq === null && event !== SystemEvents.NOTICE) return state;
  if (seq !== null && (ACTIVITY.has(event) || isPlanEvent(event))) state = ensureTurn({ ...state, busy: true }, frame);
  if (isPlanEvent(event)) state = { ...state, plan: reducePlan(state.plan, frame) };
  switch (event) {
    case AgentEvents.SESSION_CREATED:
      return { ...state, agentName: strOrNull(meta.agent_name) ?? state.agentName, ended: null };
    case AgentEvents.STATE_RESTORED:
      return restored(state, meta);
    case AgentEvents.PARTIAL_ANSWER:
      return partialAnswer(state, frame);
    case AgentEvents.RUN_RESUMED:
      return runResumed(state);
    case AgentEvents.TOOL_CALL:
      return toolCall(state, frame);
    case AgentEvents.USER_CONFIRM:
      return userConfirm(state, frame);
    case AgentEvents.TOOL_RESULT:
      return toolResult(state, frame);
    case AgentEvents.CONFIRMATION_WITHDRAWN:
      return withdrawn(state, str(meta.step_id, str(frame.step_id)));
    case AgentEvents.SESSION_END:
      return { ...closeTurn(state, "stopped", meta), ended: str(meta.reason, "closed") };
    case SystemEvents.NOTICE:
      return notice(state, meta);
    default:
  }
  if (meta.origin === undefined || meta.origin === null) {
    if (closesRun({ event, seq })) return runClosed(state, frame);
  }
  return state;
}

// -- turns -----------------------------------------------------------------------------------------

function newId(state: AgentSessionState, prefix: string): [string, AgentSessionState] {
  return [`${prefix}${state.nextId}`, { ...state, nextId: state.nextId + 1 }];
}

/** The state with an open assistant turn (one is opened for a run we saw no message of). */
function ensureTurn(state: AgentSessionState, frame: Frame): AgentSessionState {
  if (openTurn(state) !== null) return state;
  const [id, next] = newId(state, "a");
  const turn: AssistantMessage = {
    id,
    role: "assistant",
    at: timeOf(frame.timestamp) ?? 0,
    parts: [],
    status: "running",
    error: null,
    end: null,
  };
  return { ...next, messages: [...next.messages, turn] };
}

function withTurn(state: AgentSessionState, change: (turn: AssistantMessage) => AssistantMessage): AgentSessionState {
  const turn = openTurn(state);
  if (turn === null) return state;
  return { ...state, messages: [...state.messages.slice(0, -1), change(turn)] };
}

function settleParts(parts: MessagePart[]): MessagePart[] {
  return parts.map((part) => (part.type === "text" && part.streaming ? { ...part, streaming: false } : part));
}

const UNFINISHED_CALLS = new Set<ToolCallStatus>(["running", "awaiting_approval", "approved"]);

/** The open turn ended with `status`: its text settles, calls still open were cancelled. */
function closeTurn(
  state: AgentSessionState,
  status: TurnStatus,
  end: Record<string, unknown> | null,
  error: AssistantMessage["error"] = null,
): AgentSessionState {
  const turn = openTurn(state);
  let tools = state.tools;
  if (turn !== null) {
    for (const part of turn.parts) {
      const call = part.type === "tool" ? tools[part.key] : undefined;
      if (call !== undefined && UNFINISHED_CALLS.has(call.status)) {
        tools = { ...tools, [call.key]: { ...call, status: "cancelled" } };
      }
    }
  }
  const closed = withTurn(state, (t) => ({ ...t, parts: settleParts(t.parts), status, end, error }));
  return {
    ...closed,
    tools,
    busy: false,
    confirmation: null,
    plan: settlePlan(closed.plan, status === "done"),
  };
}

function runClosed(state: AgentSessionState, frame: Frame): AgentSessionState {
  const meta = metaOf(frame);
  switch (frame.event) {
    case AgentEvents.FINAL_ANSWER:
      return closeTurn(finalText(ensureTurn(state, frame), contentText(frame)), "done", meta);
    case AgentEvents.ERROR: {
      const error = { code: strOrNull(meta.error_code), message: contentText(frame) };
      return closeTurn(ensureTurn(state, frame), "failed", meta, error);
    }
    case AgentEvents.INTERRUPTED:
      return closeTurn(state, "stopped", meta);
    default: // pipeline.tasks_completed: direct task mode
      return closeTurn(ensureTurn(state, frame), "done", meta);
  }
}

/** The final answer settles the streamed text (it is the same text, complete). */
function finalText(state: AgentSessionState, text: string): AgentSessionState {
  return withTurn(state, (turn) => {
    const last = turn.parts[turn.parts.length - 1];
    if (last !== undefined && last.type === "text") {
      return { ...turn, parts: [...turn.parts.slice(0, -1), { type: "text", text, streaming: false }] };
    }
    return text === "" ? turn : { ...turn, parts: [...turn.parts, { type: "text", text, streaming: false }] };
  });
}

function partialAnswer(state: AgentSessionState, frame: Frame): AgentSessionState {
  const delta = typeof frame.content === "string" ? frame.content : "";
  const meta = metaOf(frame);
  if (meta.origin !== undefined && meta.origin !== null) {
    // A Plan & Solve sub-agent writes its task's text, not the answer.
    const taskId = taskIdOf(meta.task_id);
    if (taskId === null || state.plan === null) return state;
    const current = state.plan.tasks.find((t) => String(t.id) === String(taskId));
    return { ...state, plan: updateTask(state.plan, taskId, { text: (current?.text ?? "") + delta }) };
  }
  return withTurn(state, (turn) => {
    const last = turn.parts[turn.parts.length - 1];
    if (last !== undefined && last.type === "text" && last.streaming) {
      return { ...turn, parts: [...turn.parts.slice(0, -1), { ...last, text: last.text + delta }] };
    }
    return { ...turn, parts: [...settleParts(turn.parts), { type: "text", text: delta, streaming: true }] };
  });
}

/**
 * The run's server process stopped and another one goes on with it: the text the interrupted step
 * was streaming is superseded (that step is answered again), so the open text part is dropped.
 */
function runResumed(state: AgentSessionState): AgentSessionState {
  return withTurn(state, (turn) => {
    const last = turn.parts[turn.parts.length - 1];
    if (last === undefined || last.type !== "text" || !last.streaming) return turn;
    return { ...turn, parts: turn.parts.slice(0, -1) };
  });
}

function restored(state: AgentSessionState, meta: Record<string, unknown>): AgentSessionState {
  const reattached = meta.reattached === true;
  const warnings = Array.isArray(meta.warnings) ? meta.warnings.map((w) => String(w)) : [];
  const next: AgentSessionState = {
    ...state,
    agentName: strOrNull(meta.agent_name) ?? state.agentName,
    restored: { reattached, messageCount: num(meta.message_count) ?? 0, warnings },
    ended: null,
  };
  // A new session continues the conversation, not the run that was going on: that run is lost.
  return reattached ? next : closeTurn(next, "unfinished", null);
}

// -- tool calls ------------------------------------------------------------------------------------

/** The call's key: its id, qualified by the sub-agent's task (sub-agents may reuse call ids). */
export function toolKey(frame: Frame): string {
  const meta = metaOf(frame);
  const seq = seqOf(frame);
  const call = str(meta.call_id) || str(frame.step_id) || `seq-${seq ?? 0}`;
  const origin = meta.origin;
  if (origin === undefined || origin === null) return call;
  return `${String(origin)}:${String(meta.task_id ?? meta.agent ?? "")}:${call}`;
}

function newCall(key: string, frame: Frame): ToolCall {
  const meta = metaOf(frame);
  return {
    key,
    callId: str(meta.call_id, str(frame.step_id)),
    name: str(meta.tool, str(meta.tool_name, "tool")),
    args: meta.args !== undefined ? meta.args : meta.tool_args,
    status: "running",
    confirmStepId: null,
    expiresAt: null,
    output: null,
    data: null,
    error: null,
    failure: null,
    durationMs: null,
    taskId: taskIdOf(meta.task_id),
  };
}

/** The state with call `key` changed (created first, and shown in the open turn, when new). */
function upsertCall(
  state: AgentSessionState,
  key: string,
  frame: Frame,
  change: (call: ToolCall) => ToolCall,
): AgentSessionState {
  const known = state.tools[key];
  const call = change(known ?? newCall(key, frame));
  const next = { ...state, tools: { ...state.tools, [key]: call } };
  if (known !== undefined) return next;
  return withTurn(next, (turn) => ({ ...turn, parts: [...settleParts(turn.parts), { type: "tool", key }] }));
}

function toolCall(state: AgentSessionState, frame: Frame): AgentSessionState {
  const meta = metaOf(frame);
  const args = meta.args !== undefined ? meta.args : meta.tool_args;
  return upsertCall(state, toolKey(frame), frame, (call) => ({
    ...call,
    args,
    status: meta.needs_confirmation === true ? "awaiting_approval" : "running",
  }));
}

/** The call a confirmation is about: by call id, else the guide's older frames' newest call of that tool. */
function confirmedCallKey(state: AgentSessionState, frame: Frame): string {
  const meta = metaOf(frame);
  if (str(meta.call_id) !== "") return toolKey(frame);
  const name = str(meta.tool_name, str(meta.tool));
  const turn = openTurn(state);
  const candidates = (turn?.parts ?? []).filter(
    (part) => part.type === "tool" && state.tools[part.key]?.name === name && state.tools[part.key]?.status !== "done",
  );
  const last = candidates[candidates.length - 1];
  return last !== undefined && last.type === "tool" ? last.key : `confirm:${str(frame.step_id)}`;
}

function userConfirm(state: AgentSessionState, frame: Frame): AgentSessionState {
  const meta = metaOf(frame);
  const stepId = str(frame.step_id);
  const expiresAt = timeOf(meta.expires_at);
  const scope = meta.scope === "plan" ? "plan" : "tool";
  const confirmation: PendingConfirmation = {
    stepId,
    scope,
    toolName: str(meta.tool_name, str(meta.tool)),
    description: str(meta.tool_description),
    args: meta.tool_args !== undefined ? meta.tool_args : meta.args,
    message: contentText(frame),
    expiresAt,
    toolKey: null,
    tasks: Array.isArray(meta.tasks) ? meta.tasks : [],
    planSummary: str(meta.plan_summary),
    resent: meta.resent === true,
  };
  if (scope === "plan") {
    const plan = state.plan === null ? null : { ...state.plan, phase: "review" as const };
    return { ...state, plan, confirmation };
  }
  const key = confirmedCallKey(state, frame);
  const next = upsertCall(state, key, frame, (call) => ({
    ...call,
    args: call.args ?? confirmation.args,
    status: "awaiting_approval",
    confirmStepId: stepId,
    expiresAt,
  }));
  return { ...next, confirmation: { ...confirmation, toolKey: key } };
}

const RESULT_STATUS: Record<string, ToolCallStatus> = {
  [ToolStatuses.SUCCESS]: "done",
  [ToolStatuses.FAILED]: "failed",
  [ToolStatuses.REFUSED]: "refused",
  [ToolStatuses.EXPIRED]: "expired",
  [ToolStatuses.CANCELLED]: "cancelled",
};

function toolResult(state: AgentSessionState, frame: Frame): AgentSessionState {
  const meta = metaOf(frame);
  const key = toolKey(frame);
  const error = strOrNull(meta.error);
  const status = RESULT_STATUS[str(meta.status)] ?? (error === null ? "done" : "failed");
  const next = upsertCall(state, key, frame, (call) => ({
    ...call,
    status,
    output: contentText(frame),
    data: meta.data ?? null,
    error,
    failure: strOrNull(meta.failure),
    durationMs: num(meta.duration_ms),
    expiresAt: null,
  }));
  return next.confirmation?.toolKey === key ? { ...next, confirmation: null } : next;
}

function withdrawn(state: AgentSessionState, stepId: string): AgentSessionState {
  let tools = state.tools;
  for (const call of Object.values(tools)) {
    if (call.confirmStepId === stepId && call.status === "awaiting_approval") {
      tools = { ...tools, [call.key]: { ...call, status: "cancelled", expiresAt: null } };
    }
  }
  const confirmation = state.confirmation?.stepId === stepId ? null : state.confirmation;
  return { ...state, tools, confirmation };
}

// -- errors and notices ----------------------------------------------------------------------------

function requestError(state: AgentSessionState, frame: Frame): AgentSessionState {
  const meta = metaOf(frame);
  const error: RequestError = {
    code: strOrNull(meta.error_code),
    message: contentText(frame),
    requestEvent: strOrNull(meta.request_event),
  };
  const next = { ...state, error };
  return error.requestEvent === UserEvents.MESSAGE ? messageRejected(next, error.message) : next;
}

/** The newest message never reached the agent: say so on it and drop its empty turn. */
export function messageRejected(state: AgentSessionState, reason: string): AgentSessionState {
  const messages = [...state.messages];
  const turn = openTurn(state);
  let busy = state.busy;
  if (turn !== null && turn.parts.length === 0) {
    messages.pop();
    busy = false;
  }
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role === "user") {
      if (message.error === null) messages[i] = { ...message, error: reason };
      break;
    }
  }
  return { ...state, messages, busy };
}

function notice(state: AgentSessionState, meta: Record<string, unknown>): AgentSessionState {
  const action = meta.action;
  if ((action === NoticeActions.CANCEL_TASK || action === NoticeActions.RESTART_TASK) && state.plan !== null) {
    const taskId = taskIdOf(meta.task_id);
    if (taskId !== null && state.plan.tasks.some((t) => String(t.id) === String(taskId))) {
      return { ...state, plan: updateTask(state.plan, taskId, { control: null }) };
    }
  }
  if (action === NoticeActions.SESSION_TAKEN_OVER) {
    return { ...state, error: { code: "SESSION_TAKEN_OVER", message: "", requestEvent: null } };
  }
  return state;
}

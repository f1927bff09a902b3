/**
 * What a chat screen shows of one session, as plain data: the conversation (user messages, assistant
 * turns with streamed text and tool calls), the pending confirmation, the Plan & Solve tasks and the
 * connection. `reduce` (reduce.ts) derives it from the server's events, the transitions in local.ts
 * from what the user did; both are pure, so the state can be tested without React or a socket and
 * kept in `localStorage` as JSON.
 */

/** The connection as the user should see it. */
export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "closed" | "failed";

/**
 * Where a tool call stands. `running` → (`awaiting_approval` → `approved` | `refused` | `expired`) →
 * `done` | `failed` | `cancelled`; the server's `metadata.status` on `agent.tool_result` decides the end
 * (`success` → `done`; `refused`, `expired`, `failed`, `cancelled` as they are).
 */
export type ToolCallStatus =
  | "running"
  | "awaiting_approval"
  | "approved"
  | "refused"
  | "expired"
  | "done"
  | "failed"
  | "cancelled";

export type TaskId = string | number;

export interface ToolCall {
  /** Unique within the session: the call id, qualified by the Plan & Solve task for sub-agents. */
  key: string;
  callId: string;
  name: string;
  args: unknown;
  status: ToolCallStatus;
  /** `step_id` of the confirmation request, once one came. */
  confirmStepId: string | null;
  /** When an open confirmation counts as refused (milliseconds since the epoch). */
  expiresAt: number | null;
  /** The result text (`content` of `agent.tool_result`). */
  output: string | null;
  /** `metadata.data` of the result: chart rows, a table, an ECharts option... */
  data: unknown;
  error: string | null;
  /** With `failed`: error | invalid_arguments | unknown_tool | timeout. */
  failure: string | null;
  durationMs: number | null;
  /** The Plan & Solve task whose sub-agent made the call. */
  taskId: TaskId | null;
}

export interface TextPart {
  type: "text";
  text: string;
  streaming: boolean;
}

export interface ToolPart {
  type: "tool";
  /** Key into `AgentSessionState.tools`. */
  key: string;
}

export type MessagePart = TextPart | ToolPart;

export interface UserMessage {
  id: string;
  role: "user";
  text: string;
  at: number;
  /** Set when the server rejected the message (e.g. `SESSION_BUSY`): it was not sent to the agent. */
  error: string | null;
}

export type TurnStatus = "running" | "done" | "failed" | "stopped" | "unfinished";

export interface AssistantMessage {
  id: string;
  role: "assistant";
  at: number;
  /** Text and tool calls in the order they happened. */
  parts: MessagePart[];
  status: TurnStatus;
  /** The run's error (`agent.error`) when it failed. */
  error: { code: string | null; message: string } | null;
  /** `metadata` of the event that ended the run (steps, usage, duration_ms, reason). */
  end: Record<string, unknown> | null;
}

export type ChatMessage = UserMessage | AssistantMessage;

export interface PendingConfirmation {
  stepId: string;
  /** `tool` for a tool call, `plan` for a Plan & Solve plan awaiting approval. */
  scope: "tool" | "plan";
  toolName: string;
  description: string;
  args: unknown;
  /** The server's text (`content`). */
  message: string;
  expiresAt: number | null;
  /** The tool call it belongs to (`tools[key]`), for `tool` scope. */
  toolKey: string | null;
  /** `plan` scope: the planned tasks, which the answer may edit. */
  tasks: unknown[];
  planSummary: string;
  /** Asked again after a resume. */
  resent: boolean;
}

export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

export interface PlanTask {
  id: TaskId;
  title: string;
  objective: string;
  status: TaskStatus;
  /** The sub-agent's streamed text. */
  text: string;
  summary: string;
  output: unknown;
  error: string;
  /** A cancel or restart the user asked for and the server has not acknowledged yet. */
  control: "cancel" | "restart" | null;
}

export type PlanPhase = "planning" | "planned" | "review" | "solving" | "aggregating" | "done" | "cancelled" | "failed";

export interface PlanState {
  phase: PlanPhase;
  question: string;
  summary: string;
  tasks: PlanTask[];
  /** The aggregator's output. */
  output: unknown;
  error: string;
}

export interface RequestError {
  code: string | null;
  message: string;
  /** The rejected request (`metadata.request_event`). */
  requestEvent: string | null;
}

export interface AgentSessionState {
  connection: ConnectionStatus;
  sessionId: string | null;
  agentName: string | null;
  /** Last `seq` applied: a replayed event at or below it changes nothing. */
  lastSeq: number;
  /** A run is going on. */
  busy: boolean;
  messages: ChatMessage[];
  tools: Record<string, ToolCall>;
  confirmation: PendingConfirmation | null;
  plan: PlanState | null;
  /** The last rejected request or connection-level error. */
  error: RequestError | null;
  /** Set by `agent.state_restored`: the session continues from a signed state. */
  restored: { reattached: boolean; messageCount: number; warnings: string[] } | null;
  /** Why the session ended (`agent.session_end`), if it did. */
  ended: string | null;
  /** Counter behind message ids (kept in the state so a reload continues it). */
  nextId: number;
}

export function initialState(): AgentSessionState {
  return {
    connection: "idle",
    sessionId: null,
    agentName: null,
    lastSeq: 0,
    busy: false,
    messages: [],
    tools: {},
    confirmation: null,
    plan: null,
    error: null,
    restored: null,
    ended: null,
    nextId: 1,
  };
}

/** The assistant turn still being written, if any. */
export function openTurn(state: AgentSessionState): AssistantMessage | null {
  const last = state.messages[state.messages.length - 1];
  return last !== undefined && last.role === "assistant" && last.status === "running" ? last : null;
}

/** The tool calls of a turn, in order. */
export function turnTools(state: AgentSessionState, message: AssistantMessage): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const part of message.parts) {
    const call = part.type === "tool" ? state.tools[part.key] : undefined;
    if (call !== undefined) calls.push(call);
  }
  return calls;
}

/** The whole text of a turn (its text parts joined). */
export function turnText(message: AssistantMessage): string {
  return message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");
}

// MyAgent WebSocket protocol 1.0: a type for every event.
// Generated from src/myagent/protocol/catalog.py by `python -m myagent.protocol.render`. Do not edit.
// Field names and meanings: docs/protocol.md. Types only: this file adds no JavaScript.

/** The protocol version these types describe. */
export type ProtocolVersion = "1.0";

/** A JSON object; the protocol does not fix its fields. */
export interface JsonObject {
  [key: string]: unknown;
}

/** Fields every server frame carries or may carry. */
export interface ServerFrameBase {
  /** ISO 8601 time the frame was created (UTC, milliseconds). */
  timestamp: string;
  /** Pairs a request with its answer (tool call id, `confirm_…` ids). */
  step_id?: string;
  /** Short human-readable text. */
  show_content?: string;
  /** The connection, where stated. */
  connection_id?: string;
}

/** Sequenced events: per-session `seq` (gapless, from 1) and a stable `event_id` (`<session_id>:<seq>`). */
export interface Sequenced {
  seq: number;
  event_id: string;
}

/** Fields every client frame may carry. */
export interface ClientFrameBase {
  /** ISO 8601 time the frame was created. */
  timestamp?: string;
}

/** A code of `metadata.error_code` (`system.error`, `agent.error`). */
export type ErrorCode =
  | "INVALID_JSON"
  | "INVALID_FRAME"
  | "UNKNOWN_EVENT"
  | "MISSING_FIELD"
  | "INVALID_FIELD"
  | "MESSAGE_TOO_LARGE"
  | "BINARY_NOT_SUPPORTED"
  | "RATE_LIMITED"
  | "SESSION_NOT_FOUND"
  | "SESSION_NOT_OWNED"
  | "SESSION_AMBIGUOUS"
  | "SESSION_BUSY"
  | "SESSION_LIMIT"
  | "SESSION_ACTIVE_ELSEWHERE"
  | "INVALID_RESUME_TOKEN"
  | "REPLAY_GAP"
  | "ACK_OUT_OF_RANGE"
  | "STEP_NOT_FOUND"
  | "STEP_ALREADY_ANSWERED"
  | "NO_ACTIVE_RUN"
  | "NOT_SUPPORTED"
  | "AGENT_FACTORY_FAILED"
  | "RUN_FAILED"
  | "MODEL_ERROR"
  | "RUN_LOST"
  | "STATE_MALFORMED"
  | "STATE_VERSION_MISMATCH"
  | "STATE_CHECKSUM_MISMATCH"
  | "STATE_SIGNATURE_MISMATCH"
  | "STATE_EXPIRED"
  | "STATE_FROM_FUTURE"
  | "STATE_TOO_LARGE"
  | "STATE_UNREADABLE"
  | "SERVER_SHUTTING_DOWN"
  | "INTERNAL_ERROR";

/** A WebSocket close code the server uses (docs/protocol.md). */
export type CloseCode =
  | 1000
  | 1001
  | 1002
  | 1007
  | 1008
  | 1009
  | 1011
  | 4008
  | 4401
  | 4403
  | 4429;

// -- Client → server (user.*) ----------------------------------------------------------------

/** `user.create_session`: Create a session; the server answers `agent.session_created`. */
export interface UserCreateSessionEvent extends ClientFrameBase {
  event: "user.create_session";
  content?: string | JsonObject | null;
}

/** `metadata` of `user.message`; servers may add fields. */
export interface UserMessageMetadata {
  /** W3C trace context: the run's spans continue this trace (tracing on). */
  traceparent?: string;
  /** W3C trace state sent with `traceparent`. */
  tracestate?: string;
  [key: string]: unknown;
}

/** `content` of `user.message` when it is an object. */
export interface UserMessageContent {
  /** The question, when `content` is an object. */
  question?: string;
  [key: string]: unknown;
}

/** `user.message`: Ask the session's agent something. `content` is the text, or an object with `question`. */
export interface UserMessageEvent extends ClientFrameBase {
  event: "user.message";
  session_id: string;
  content: string | UserMessageContent;
  metadata?: UserMessageMetadata;
}

/** `content` of `user.response` when it is an object. */
export interface UserResponseContent {
  /** true to run the tool, false to refuse. */
  confirmed: boolean;
  /** Optional note from the user (passed to the model on refusal). */
  message?: string;
  /** Plan confirmation only: the edited task list. */
  tasks?: unknown[];
  [key: string]: unknown;
}

/** `user.response`: Answer an `agent.user_confirm` (same `step_id`). `content.approved` is accepted as another name of `content.confirmed` (`confirmed` wins when both are sent). */
export interface UserResponseEvent extends ClientFrameBase {
  event: "user.response";
  session_id: string;
  /** The `step_id` of the confirmation request. */
  step_id: string;
  content: UserResponseContent;
}

/** `user.cancel`: Stop the session's active run; the server answers `agent.interrupted`. */
export interface UserCancelEvent extends ClientFrameBase {
  event: "user.cancel";
  session_id: string;
}

/** `content` of `user.ack` when it is an object. */
export interface UserAckContent {
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  [key: string]: unknown;
}

/** `user.ack`: Acknowledge delivery so the server can drop retained events. */
export interface UserAckEvent extends ClientFrameBase {
  event: "user.ack";
  session_id?: string;
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  content?: UserAckContent | null;
}

/** `content` of `user.reconnect` when it is an object. */
export interface UserReconnectContent {
  /** The token from `agent.session_created`. Required: at the top level, in `content` or in `metadata`. */
  resume_token?: string;
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  [key: string]: unknown;
}

/** `user.reconnect`: Re-attach a detached session (from this or a new connection) and replay missed events. */
export interface UserReconnectEvent extends ClientFrameBase {
  event: "user.reconnect";
  session_id: string;
  /** The token from `agent.session_created`. Required: at the top level, in `content` or in `metadata`. */
  resume_token?: string;
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  content?: UserReconnectContent | null;
}

/** `user.close_session`: End the session now and free it; the server answers `agent.session_end`. */
export interface UserCloseSessionEvent extends ClientFrameBase {
  event: "user.close_session";
  session_id: string;
}

/** `user.request_state`: Export the session as a signed state; answered by `agent.state_exported`. */
export interface UserRequestStateEvent extends ClientFrameBase {
  event: "user.request_state";
  session_id: string;
}

/** `content` of `user.reconnect_with_state` when it is an object. */
export interface UserReconnectWithStateContent {
  /** The signed state from `agent.state_exported`. Required: at the top level, in `content` or in `metadata`. */
  signed_state?: JsonObject;
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  [key: string]: unknown;
}

/** `user.reconnect_with_state`: Restore a session from a signed state; answered by `agent.state_restored`. */
export interface UserReconnectWithStateEvent extends ClientFrameBase {
  event: "user.reconnect_with_state";
  /** The signed state from `agent.state_exported`. Required: at the top level, in `content` or in `metadata`. */
  signed_state?: JsonObject;
  /** `event_id` of the last event the client processed, or its bare `seq` (also accepted in `metadata`). */
  last_event_id?: string | number;
  /** `seq` of the last event the client processed: a whole number or a numeric string (also accepted in `metadata`). */
  last_seq?: number | string;
  content?: UserReconnectWithStateContent | null;
}

/** `content` of `user.solve_tasks` when it is an object. */
export interface UserSolveTasksContent {
  /** Tasks, each an object with an `id`. */
  tasks: unknown[];
  /** Optional background question. */
  question?: string;
  /** Optional plan summary. */
  plan_summary?: string;
  [key: string]: unknown;
}

/** `user.solve_tasks`: Plan & Solve: skip planning and solve these tasks. `content.tasks` may also be a single task object, and `content` may be the task itself (an object with `id`) or a bare array of tasks. */
export interface UserSolveTasksEvent extends ClientFrameBase {
  event: "user.solve_tasks";
  session_id: string;
  content: UserSolveTasksContent;
}

/** `content` of `user.cancel_task` when it is an object. */
export interface UserCancelTaskContent {
  /** Id of the Plan & Solve task. */
  task_id: string | number;
  [key: string]: unknown;
}

/** `user.cancel_task`: Plan & Solve: cancel one task. */
export interface UserCancelTaskEvent extends ClientFrameBase {
  event: "user.cancel_task";
  session_id: string;
  content: UserCancelTaskContent;
}

/** `content` of `user.restart_task` when it is an object. */
export interface UserRestartTaskContent {
  /** Id of the Plan & Solve task. */
  task_id: string | number;
  [key: string]: unknown;
}

/** `user.restart_task`: Plan & Solve: run one task again. */
export interface UserRestartTaskEvent extends ClientFrameBase {
  event: "user.restart_task";
  session_id: string;
  content: UserRestartTaskContent;
}

/** `user.cancel_plan`: Plan & Solve: cancel planning or a plan awaiting confirmation. */
export interface UserCancelPlanEvent extends ClientFrameBase {
  event: "user.cancel_plan";
  session_id: string;
}

/** `content` of `user.replan` when it is an object. */
export interface UserReplanContent {
  /** A new question to plan for. */
  question?: string;
  [key: string]: unknown;
}

/** `user.replan`: Plan & Solve: plan again, optionally with a new question. */
export interface UserReplanEvent extends ClientFrameBase {
  event: "user.replan";
  session_id: string;
  content?: UserReplanContent | null;
}

/** `content` of `user.authenticate` when it is an object. */
export interface UserAuthenticateContent {
  /** The bearer token (for example a JWT). */
  token: string;
  [key: string]: unknown;
}

/** `user.authenticate`: Present a bearer token where headers cannot carry one (browsers): the first frame when the server requires authentication, or later to refresh a token before it expires. Accepted: `system.notice` with `action: "authenticate"`; refused: close `4401` (invalid or expired) or `4403` (another principal, or not allowed). */
export interface UserAuthenticateEvent extends ClientFrameBase {
  event: "user.authenticate";
  content: UserAuthenticateContent;
}

// -- Agent events (agent.*) ------------------------------------------------------------------

/** `metadata` of `agent.session_created`; servers may add fields. */
export interface AgentSessionCreatedMetadata {
  /** Secret that lets this client resume the session. */
  resume_token: string;
  /** The agent's name. */
  agent_name?: string;
  /** The agent's description. */
  agent_description?: string;
  /** Seconds the session outlives a lost connection. */
  grace_period?: number;
  [key: string]: unknown;
}

/** `agent.session_created`: A session exists; keep `session_id` and `metadata.resume_token`. */
export interface AgentSessionCreatedEvent extends ServerFrameBase, Sequenced {
  event: "agent.session_created";
  session_id: string;
  content: string;
  metadata: AgentSessionCreatedMetadata;
}

/** `metadata` of `agent.thinking`; servers may add fields. */
export interface AgentThinkingMetadata {
  /** Step number within the run. */
  step?: number;
  /** Plan & Solve task, if any. */
  task_id?: string | number;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  [key: string]: unknown;
}

/** `agent.thinking`: The agent is calling the model (one per step). */
export interface AgentThinkingEvent extends ServerFrameBase, Sequenced {
  event: "agent.thinking";
  session_id: string;
  content: string;
  metadata?: AgentThinkingMetadata;
}

/** `metadata` of `agent.tool_call`; servers may add fields. */
export interface AgentToolCallMetadata {
  /** Name of the tool. */
  tool?: string;
  /** Arguments (raw text when they were not valid JSON). */
  args?: JsonObject | string;
  /** Always `running`. */
  status?: string;
  /** Name of the tool. */
  tool_name?: string;
  /** The model's tool-call id. */
  call_id?: string;
  /** Plan & Solve task the activity belongs to, if any. */
  task_id?: string | number;
  /** Step number within the run. */
  step?: number;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  /** Same as `args`. */
  tool_args?: JsonObject | string;
  /** An `agent.user_confirm` follows. */
  needs_confirmation?: boolean;
  [key: string]: unknown;
}

/** `agent.tool_call`: The model called a tool. `step_id` is the call's id: the `agent.tool_result` of the call has the same one. `metadata.tool`/`args`/`status` are the keys of the visualization guide; `tool_name`/`tool_args` carry the same values for older clients. */
export interface AgentToolCallEvent extends ServerFrameBase, Sequenced {
  event: "agent.tool_call";
  session_id: string;
  content: string;
  metadata?: AgentToolCallMetadata;
}

/** `metadata` of `agent.user_confirm`; servers may add fields. */
export interface AgentUserConfirmMetadata {
  /** Tool to approve. */
  tool_name?: string;
  /** What the tool does. */
  tool_description?: string;
  /** Arguments it will run with. */
  tool_args?: JsonObject;
  /** Always true. */
  requires_confirmation?: boolean;
  /** ISO time after which the request counts as refused. */
  expires_at?: string;
  /** Seconds the request stays open. */
  timeout_seconds?: number;
  /** `tool`, or `plan` for a plan confirmation. */
  scope?: string;
  /** The model's tool-call id. */
  call_id?: string;
  /** Plan & Solve task, if any. */
  task_id?: string | number;
  /** Asked again after a resume (same `step_id`). */
  resent?: boolean;
  /** `plan` scope: the planned tasks, editable in the answer. */
  tasks?: unknown[];
  /** `plan` scope: the planner's summary. */
  plan_summary?: string;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  [key: string]: unknown;
}

/** `agent.user_confirm`: A tool needs the user's approval; answer with `user.response`. */
export interface AgentUserConfirmEvent extends ServerFrameBase, Sequenced {
  event: "agent.user_confirm";
  session_id: string;
  content: string;
  metadata?: AgentUserConfirmMetadata;
}

/** `metadata` of `agent.tool_result`; servers may add fields. */
export interface AgentToolResultMetadata {
  /** Name of the tool. */
  tool?: string;
  /** success | failed | refused | expired | cancelled. */
  status: string;
  /** What went wrong; null when the call succeeded. */
  error: string | null;
  /** Structured payload (chart data, table rows); null when the tool returned none. */
  data: JsonObject | unknown[] | string | number | boolean | null;
  /** Only with `status: failed`: error | invalid_arguments | unknown_tool | timeout | interrupted (the process running the call stopped; see `agent.run_resumed`). */
  failure?: string;
  /** Name of the tool. */
  tool_name?: string;
  /** The model's tool-call id. */
  call_id?: string;
  /** Plan & Solve task the activity belongs to, if any. */
  task_id?: string | number;
  /** Step number within the run. */
  step?: number;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  /** An image the tool produced (base64). */
  base64_image?: string;
  /** How long the call took. */
  duration_ms?: number;
  [key: string]: unknown;
}

/** `agent.tool_result`: A tool call finished: `success`, `failed`, `refused` (the user refused the confirmation), `expired` (the confirmation expired unanswered) or `cancelled` (the run was cancelled). Same `step_id` as its `agent.tool_call`. */
export interface AgentToolResultEvent extends ServerFrameBase, Sequenced {
  event: "agent.tool_result";
  session_id: string;
  content: string;
  metadata: AgentToolResultMetadata;
}

/** `metadata` of `agent.partial_answer`; servers may add fields. */
export interface AgentPartialAnswerMetadata {
  /** Step number within the run. */
  step?: number;
  /** Plan & Solve task, if any. */
  task_id?: string | number;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  [key: string]: unknown;
}

/** `agent.partial_answer`: A piece of the answer text; concatenate in `seq` order. */
export interface AgentPartialAnswerEvent extends ServerFrameBase, Sequenced {
  event: "agent.partial_answer";
  session_id: string;
  content: string;
  metadata?: AgentPartialAnswerMetadata;
}

/** `metadata` of `agent.final_answer`; servers may add fields. */
export interface AgentFinalAnswerMetadata {
  /** stop | terminate | max_steps. */
  reason?: string;
  /** Model calls in this run. */
  steps?: number;
  /** Tokens of this run: prompt_tokens, completion_tokens, total_tokens. */
  usage?: JsonObject;
  /** How long the run took. */
  duration_ms?: number;
  [key: string]: unknown;
}

/** `agent.final_answer`: The run's answer; the session is idle again. */
export interface AgentFinalAnswerEvent extends ServerFrameBase, Sequenced {
  event: "agent.final_answer";
  session_id: string;
  content: string;
  metadata?: AgentFinalAnswerMetadata;
}

/** `metadata` of `agent.llm_message`; servers may add fields. */
export interface AgentLlmMessageMetadata {
  /** Message role. */
  role?: string;
  /** Plan & Solve task, if any. */
  task_id?: string | number;
  /** Which Plan & Solve role produced it: planner, solver or aggregator. */
  origin?: string;
  /** Name of the sub-agent that produced it. */
  agent?: string;
  [key: string]: unknown;
}

/** `agent.llm_message`: A message added to the agent's memory (only with `send_llm_messages`). */
export interface AgentLlmMessageEvent extends ServerFrameBase, Sequenced {
  event: "agent.llm_message";
  session_id: string;
  content: JsonObject;
  metadata?: AgentLlmMessageMetadata;
}

/** `metadata` of `agent.error`; servers may add fields. */
export interface AgentErrorMetadata {
  /** A code from the error table. */
  error_code: ErrorCode;
  /** Extra facts about the error (field name, limits, ranges). */
  details?: JsonObject;
  /** The event of the rejected frame. */
  request_event?: string;
  /** Model calls the run made before it failed. */
  step?: number;
  [key: string]: unknown;
}

/** `agent.error`: Sequenced: the run failed and this closes it; the session is idle again and usable. Not sequenced (no `seq`/`event_id`, `metadata.request_event` set): a request that named this session was rejected and nothing changed; it closes no run. The message says how to resume a session this connection does not hold (`user.reconnect` with its resume token, or `user.reconnect_with_state`). */
export interface AgentErrorEvent extends ServerFrameBase, Partial<Sequenced> {
  event: "agent.error";
  session_id: string;
  content: string;
  metadata: AgentErrorMetadata;
}

/** `metadata` of `agent.interrupted`; servers may add fields. */
export interface AgentInterruptedMetadata {
  /** Why the run stopped (user_cancel, session_closed, ...). */
  reason?: string;
  [key: string]: unknown;
}

/** `agent.interrupted`: The run was cancelled; memory stays valid for the next message. */
export interface AgentInterruptedEvent extends ServerFrameBase, Sequenced {
  event: "agent.interrupted";
  session_id: string;
  content: string;
  metadata?: AgentInterruptedMetadata;
}

/** `metadata` of `agent.session_end`; servers may add fields. */
export interface AgentSessionEndMetadata {
  /** closed | expired | shutdown. */
  reason?: string;
  [key: string]: unknown;
}

/** `agent.session_end`: The session is closed; its id is no longer valid. */
export interface AgentSessionEndEvent extends ServerFrameBase, Sequenced {
  event: "agent.session_end";
  session_id: string;
  content: string;
  metadata?: AgentSessionEndMetadata;
}

/** `metadata` of `agent.state_exported`; servers may add fields. */
export interface AgentStateExportedMetadata {
  /** Keep it and send it back in `user.reconnect_with_state`. */
  signed_state: JsonObject;
  /** Bytes of the signed state as canonical JSON. */
  state_size?: number;
  /** Messages in the saved conversation. */
  message_count?: number;
  /** The agent's step counter. */
  current_step?: number;
  /** Whether the state's content is encrypted. */
  encrypted?: boolean;
  [key: string]: unknown;
}

/** `agent.state_exported`: The signed session state. */
export interface AgentStateExportedEvent extends ServerFrameBase, Sequenced {
  event: "agent.state_exported";
  session_id: string;
  content: string;
  metadata: AgentStateExportedMetadata;
}

/** `metadata` of `agent.confirmation_withdrawn`; servers may add fields. */
export interface AgentConfirmationWithdrawnMetadata {
  /** The confirmation that was withdrawn. */
  step_id: string;
  [key: string]: unknown;
}

/** `agent.confirmation_withdrawn`: A pending `agent.user_confirm` no longer needs an answer (the run was cancelled or replanned). */
export interface AgentConfirmationWithdrawnEvent extends ServerFrameBase, Sequenced {
  event: "agent.confirmation_withdrawn";
  session_id: string;
  content: string;
  metadata: AgentConfirmationWithdrawnMetadata;
}

/** `metadata` of `agent.run_resumed`; servers may add fields. */
export interface AgentRunResumedMetadata {
  /** The step that is answered again. */
  step: number;
  /** Ids of the tool calls that were running and are reported to the model as interrupted (an `agent.tool_result` with `status: failed`, `failure: interrupted` follows for each). */
  interrupted_calls?: unknown[];
  /** Why: `node_lost`. */
  reason?: string;
  [key: string]: unknown;
}

/** `agent.run_resumed`: The process running this session's run stopped; another one goes on with the run from its last checkpoint (after the last completed model reply or tool result). Text deltas of `metadata.step` sent before this event are superseded: that step is answered again. The run still ends with one closing event. */
export interface AgentRunResumedEvent extends ServerFrameBase, Sequenced {
  event: "agent.run_resumed";
  session_id: string;
  content: string;
  metadata: AgentRunResumedMetadata;
}

/** `metadata` of `agent.state_restored`; servers may add fields. */
export interface AgentStateRestoredMetadata {
  /** The session the state was exported from. */
  original_session_id: string;
  /** The agent's step counter after the restore. */
  restored_step?: number;
  /** Messages restored into the agent's memory. */
  message_count?: number;
  /** What was lost or changed (trimmed turns, another agent). */
  warnings?: unknown[];
  /** Token for `user.reconnect` to this (possibly new) session. */
  resume_token?: string;
  /** True when the original session was still alive and re-attached. */
  reattached?: boolean;
  /** Tool calls that run again (confirmations are asked again). */
  pending_calls?: number;
  /** Name of the session's agent. */
  agent_name?: string;
  [key: string]: unknown;
}

/** `agent.state_restored`: A session was restored from a signed state. */
export interface AgentStateRestoredEvent extends ServerFrameBase, Sequenced {
  event: "agent.state_restored";
  session_id: string;
  content: string;
  metadata: AgentStateRestoredMetadata;
}

// -- System events (system.*) ----------------------------------------------------------------

/** `metadata` of `system.connected`; servers may add fields. */
export interface SystemConnectedMetadata {
  /** Id of this connection. */
  connection_id: string;
  /** myagent version. */
  server_version?: string;
  /** Protocol version. */
  protocol_version?: string;
  /** Optional features this server supports. */
  capabilities?: unknown[];
  /** Seconds between `system.heartbeat` frames. */
  heartbeat_interval?: number;
  /** Largest client frame the server accepts, in bytes. */
  max_message_bytes?: number;
  [key: string]: unknown;
}

/** `system.connected`: First frame of every connection. */
export interface SystemConnectedEvent extends ServerFrameBase {
  event: "system.connected";
  content: string;
  metadata: SystemConnectedMetadata;
}

/** `system.heartbeat`: Keep-alive; needs no answer. */
export interface SystemHeartbeatEvent extends ServerFrameBase {
  event: "system.heartbeat";
  content?: string;
  metadata?: JsonObject;
}

/** `metadata` of `system.notice`; servers may add fields. */
export interface SystemNoticeMetadata {
  /** The control or happening this notice is about. */
  action?: string;
  /** Whether the control took effect. */
  ok?: boolean;
  /** `reconnect`: events replayed after this notice. */
  replay_count?: number;
  /** `reconnect`: the session's last seq when the replay was taken. */
  last_seq?: number;
  /** `reconnect`: whether a run is in progress. */
  busy?: boolean;
  /** `reconnect`: the session's next resume token (the old one is spent once the client sends a frame or closes cleanly). */
  resume_token?: string;
  /** `authenticate`: who the connection now acts for. */
  principal?: string;
  /** `authenticate`: when the credentials expire (UNIX time). */
  expires_at?: number | null;
  /** `solve_tasks`: how many tasks will run. */
  tasks?: number;
  /** `cancel_task`/`restart_task`: the task. */
  task_id?: string | number;
  /** `solve_tasks`: why the tasks were refused. */
  error?: string;
  [key: string]: unknown;
}

/** `system.notice`: Acknowledges a control (`metadata.action`, `metadata.ok`) or informs. */
export interface SystemNoticeEvent extends ServerFrameBase {
  event: "system.notice";
  session_id?: string;
  content: string;
  metadata?: SystemNoticeMetadata;
}

/** `metadata` of `system.error`; servers may add fields. */
export interface SystemErrorMetadata {
  /** A code from the error table. */
  error_code: ErrorCode;
  /** Extra facts about the error (field name, limits, ranges). */
  details?: JsonObject;
  /** The event of the rejected frame. */
  request_event?: string;
  [key: string]: unknown;
}

/** `system.error`: A frame was rejected; nothing changed. Not replayed. A rejected frame that named a session is answered with an unsequenced `agent.error` instead (the replay gap of a resume stays a `system.error`). */
export interface SystemErrorEvent extends ServerFrameBase {
  event: "system.error";
  session_id?: string;
  content: string;
  metadata: SystemErrorMetadata;
}

// -- Plan & Solve: planning (plan.*) ---------------------------------------------------------

/** `metadata` of `plan.start`; servers may add fields. */
export interface PlanStartMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `plan.start`: Planning started. content: `{question}`. */
export interface PlanStartEvent extends ServerFrameBase, Sequenced {
  event: "plan.start";
  session_id: string;
  content: string | JsonObject;
  metadata?: PlanStartMetadata;
}

/** `metadata` of `plan.completed`; servers may add fields. */
export interface PlanCompletedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `plan.completed`: Planning produced tasks. content: `{tasks, plan_summary, statistics}` (statistics: one entry per model call of this session's planner: origin, agent, input/output/total tokens). */
export interface PlanCompletedEvent extends ServerFrameBase, Sequenced {
  event: "plan.completed";
  session_id: string;
  content: string | JsonObject;
  metadata?: PlanCompletedMetadata;
}

/** `metadata` of `plan.cancelled`; servers may add fields. */
export interface PlanCancelledMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `plan.cancelled`: Planning, or a plan awaiting confirmation, was cancelled or refused. content: `{question, reason}`; the run then ends with `agent.final_answer`. */
export interface PlanCancelledEvent extends ServerFrameBase, Sequenced {
  event: "plan.cancelled";
  session_id: string;
  content: string | JsonObject;
  metadata?: PlanCancelledMetadata;
}

/** `metadata` of `plan.coercion_error`; servers may add fields. */
export interface PlanCoercionErrorMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `plan.coercion_error`: Edited or client-supplied tasks were invalid. content: `{error}`; the run ends. */
export interface PlanCoercionErrorEvent extends ServerFrameBase, Sequenced {
  event: "plan.coercion_error";
  session_id: string;
  content: string | JsonObject;
  metadata?: PlanCoercionErrorMetadata;
}

// -- Plan & Solve: tasks (solver.*) ----------------------------------------------------------

/** `metadata` of `solver.start`; servers may add fields. */
export interface SolverStartMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `solver.start`: A task's solver started. content: `{task}`. */
export interface SolverStartEvent extends ServerFrameBase, Sequenced {
  event: "solver.start";
  session_id: string;
  content: string | JsonObject;
  metadata?: SolverStartMetadata;
}

/** `metadata` of `solver.completed`; servers may add fields. */
export interface SolverCompletedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `solver.completed`: A task's solver finished. content: `{task, result: {output, summary, agent_name, statistics}}`. */
export interface SolverCompletedEvent extends ServerFrameBase, Sequenced {
  event: "solver.completed";
  session_id: string;
  content: string | JsonObject;
  metadata?: SolverCompletedMetadata;
}

/** `metadata` of `solver.failed`; servers may add fields. */
export interface SolverFailedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `solver.failed`: A task's solver raised or its agent failed. content: `{task, error}`. */
export interface SolverFailedEvent extends ServerFrameBase, Sequenced {
  event: "solver.failed";
  session_id: string;
  content: string | JsonObject;
  metadata?: SolverFailedMetadata;
}

/** `metadata` of `solver.cancelled`; servers may add fields. */
export interface SolverCancelledMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `solver.cancelled`: A task was cancelled (`user.cancel_task` or `user.cancel`). content: `{task}`. */
export interface SolverCancelledEvent extends ServerFrameBase, Sequenced {
  event: "solver.cancelled";
  session_id: string;
  content: string | JsonObject;
  metadata?: SolverCancelledMetadata;
}

/** `metadata` of `solver.restarted`; servers may add fields. */
export interface SolverRestartedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `solver.restarted`: A task is run again (`user.restart_task`); `solver.start` follows. content: `{task}`. */
export interface SolverRestartedEvent extends ServerFrameBase, Sequenced {
  event: "solver.restarted";
  session_id: string;
  content: string | JsonObject;
  metadata?: SolverRestartedMetadata;
}

// -- Plan & Solve: aggregation (aggregate.*) -------------------------------------------------

/** `metadata` of `aggregate.start`; servers may add fields. */
export interface AggregateStartMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `aggregate.start`: Aggregation started. content: `{context, solver_results}` (context: `{question, plan_summary, tasks}`, tasks being their number). */
export interface AggregateStartEvent extends ServerFrameBase, Sequenced {
  event: "aggregate.start";
  session_id: string;
  content: string | JsonObject;
  metadata?: AggregateStartMetadata;
}

/** `metadata` of `aggregate.completed`; servers may add fields. */
export interface AggregateCompletedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `aggregate.completed`: Aggregation finished. content: `{context, solver_results, output}` (context: what was aggregated, `{question, plan_summary, tasks}` as in `aggregate.start`). */
export interface AggregateCompletedEvent extends ServerFrameBase, Sequenced {
  event: "aggregate.completed";
  session_id: string;
  content: string | JsonObject;
  metadata?: AggregateCompletedMetadata;
}

// -- Plan & Solve: pipeline (pipeline.*) -----------------------------------------------------

/** `metadata` of `pipeline.tasks_completed`; servers may add fields. */
export interface PipelineTasksCompletedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  [key: string]: unknown;
}

/** `pipeline.tasks_completed`: Direct task mode (`user.solve_tasks`) finished; it closes that run. content: `{total, completed, failed, cancelled}`. */
export interface PipelineTasksCompletedEvent extends ServerFrameBase, Sequenced {
  event: "pipeline.tasks_completed";
  session_id: string;
  content: string | JsonObject;
  metadata?: PipelineTasksCompletedMetadata;
}

/** `metadata` of `pipeline.completed`; servers may add fields. */
export interface PipelineCompletedMetadata {
  /** The task, for solver events. */
  task_id?: string | number;
  /** The run's model calls, as in `content.statistics`. */
  statistics: unknown[];
  [key: string]: unknown;
}

/** `pipeline.completed`: The pipeline finished; `agent.final_answer` follows. content: `{statistics, tasks, completed, failed, cancelled}` (statistics: every model call of this run, this session only); `metadata.statistics` holds the same statistics. */
export interface PipelineCompletedEvent extends ServerFrameBase, Sequenced {
  event: "pipeline.completed";
  session_id: string;
  content: string | JsonObject;
  metadata: PipelineCompletedMetadata;
}

// -- unions and maps ------------------------------------------------------------------------

/** Every server → client frame. */
export type ServerEvent =
  | AgentSessionCreatedEvent
  | AgentThinkingEvent
  | AgentToolCallEvent
  | AgentUserConfirmEvent
  | AgentToolResultEvent
  | AgentPartialAnswerEvent
  | AgentFinalAnswerEvent
  | AgentLlmMessageEvent
  | AgentErrorEvent
  | AgentInterruptedEvent
  | AgentSessionEndEvent
  | AgentStateExportedEvent
  | AgentConfirmationWithdrawnEvent
  | AgentRunResumedEvent
  | AgentStateRestoredEvent
  | SystemConnectedEvent
  | SystemHeartbeatEvent
  | SystemNoticeEvent
  | SystemErrorEvent
  | PlanStartEvent
  | PlanCompletedEvent
  | PlanCancelledEvent
  | PlanCoercionErrorEvent
  | SolverStartEvent
  | SolverCompletedEvent
  | SolverFailedEvent
  | SolverCancelledEvent
  | SolverRestartedEvent
  | AggregateStartEvent
  | AggregateCompletedEvent
  | PipelineTasksCompletedEvent
  | PipelineCompletedEvent;

/** Every client → server frame. */
export type ClientEvent =
  | UserCreateSessionEvent
  | UserMessageEvent
  | UserResponseEvent
  | UserCancelEvent
  | UserAckEvent
  | UserReconnectEvent
  | UserCloseSessionEvent
  | UserRequestStateEvent
  | UserReconnectWithStateEvent
  | UserSolveTasksEvent
  | UserCancelTaskEvent
  | UserRestartTaskEvent
  | UserCancelPlanEvent
  | UserReplanEvent
  | UserAuthenticateEvent;

/** Events that carry `seq`/`event_id` and are replayed after a resume. */
export type SequencedEventName =
  | "agent.session_created"
  | "agent.thinking"
  | "agent.tool_call"
  | "agent.user_confirm"
  | "agent.tool_result"
  | "agent.partial_answer"
  | "agent.final_answer"
  | "agent.llm_message"
  | "agent.error"
  | "agent.interrupted"
  | "agent.session_end"
  | "agent.state_exported"
  | "agent.confirmation_withdrawn"
  | "agent.run_resumed"
  | "agent.state_restored"
  | "plan.start"
  | "plan.completed"
  | "plan.cancelled"
  | "plan.coercion_error"
  | "solver.start"
  | "solver.completed"
  | "solver.failed"
  | "solver.cancelled"
  | "solver.restarted"
  | "aggregate.start"
  | "aggregate.completed"
  | "pipeline.tasks_completed"
  | "pipeline.completed";

/** Events that end a run; exactly one closes every run. */
export type RunClosingEventName =
  | "agent.error"
  | "agent.final_answer"
  | "agent.interrupted"
  | "pipeline.tasks_completed";

/** Values of `metadata.action` on `system.notice`. */
export type NoticeAction =
  | "reconnect"
  | "session_taken_over"
  | "solve_tasks"
  | "cancel_task"
  | "restart_task"
  | "cancel_plan"
  | "replan";

/** Values of `metadata.status` on `agent.tool_call` (running) and `agent.tool_result`. */
export type ToolStatus =
  | "running"
  | "success"
  | "failed"
  | "refused"
  | "expired"
  | "cancelled";

/** Name of a server event. */
export type ServerEventName = ServerEvent["event"];

/** Name of a client event. */
export type ClientEventName = ClientEvent["event"];

/** Server events by name: `ServerEventMap["agent.final_answer"]`. */
export interface ServerEventMap {
  "agent.session_created": AgentSessionCreatedEvent;
  "agent.thinking": AgentThinkingEvent;
  "agent.tool_call": AgentToolCallEvent;
  "agent.user_confirm": AgentUserConfirmEvent;
  "agent.tool_result": AgentToolResultEvent;
  "agent.partial_answer": AgentPartialAnswerEvent;
  "agent.final_answer": AgentFinalAnswerEvent;
  "agent.llm_message": AgentLlmMessageEvent;
  "agent.error": AgentErrorEvent;
  "agent.interrupted": AgentInterruptedEvent;
  "agent.session_end": AgentSessionEndEvent;
  "agent.state_exported": AgentStateExportedEvent;
  "agent.confirmation_withdrawn": AgentConfirmationWithdrawnEvent;
  "agent.run_resumed": AgentRunResumedEvent;
  "agent.state_restored": AgentStateRestoredEvent;
  "system.connected": SystemConnectedEvent;
  "system.heartbeat": SystemHeartbeatEvent;
  "system.notice": SystemNoticeEvent;
  "system.error": SystemErrorEvent;
  "plan.start": PlanStartEvent;
  "plan.completed": PlanCompletedEvent;
  "plan.cancelled": PlanCancelledEvent;
  "plan.coercion_error": PlanCoercionErrorEvent;
  "solver.start": SolverStartEvent;
  "solver.completed": SolverCompletedEvent;
  "solver.failed": SolverFailedEvent;
  "solver.cancelled": SolverCancelledEvent;
  "solver.restarted": SolverRestartedEvent;
  "aggregate.start": AggregateStartEvent;
  "aggregate.completed": AggregateCompletedEvent;
  "pipeline.tasks_completed": PipelineTasksCompletedEvent;
  "pipeline.completed": PipelineCompletedEvent;
}

/** Client events by name. */
export interface ClientEventMap {
  "user.create_session": UserCreateSessionEvent;
  "user.message": UserMessageEvent;
  "user.response": UserResponseEvent;
  "user.cancel": UserCancelEvent;
  "user.ack": UserAckEvent;
  "user.reconnect": UserReconnectEvent;
  "user.close_session": UserCloseSessionEvent;
  "user.request_state": UserRequestStateEvent;
  "user.reconnect_with_state": UserReconnectWithStateEvent;
  "user.solve_tasks": UserSolveTasksEvent;
  "user.cancel_task": UserCancelTaskEvent;
  "user.restart_task": UserRestartTaskEvent;
  "user.cancel_plan": UserCancelPlanEvent;
  "user.replan": UserReplanEvent;
  "user.authenticate": UserAuthenticateEvent;
}

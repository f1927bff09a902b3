/** Server frames for the React state tests, shaped as the server sends them (see fixtures/ for a real run). */
import type { ServerEvent } from "../../src/generated/events.js";

export const SID = "s-1";

export class Frames {
  seq = 0;

  constructor(readonly sessionId = SID) {}

  /** A sequenced frame of this session. */
  next(event: string, fields: Record<string, unknown> = {}): ServerEvent {
    this.seq += 1;
    return {
      event,
      timestamp: "2026-01-01T00:00:00.000Z",
      session_id: this.sessionId,
      seq: this.seq,
      event_id: `${this.sessionId}:${this.seq}`,
      ...fields,
    } as unknown as ServerEvent;
  }

  /** An unsequenced frame (connection-level or a request error). */
  plain(event: string, fields: Record<string, unknown> = {}): ServerEvent {
    return { event, timestamp: "2026-01-01T00:00:00.000Z", ...fields } as unknown as ServerEvent;
  }

  created(): ServerEvent {
    return this.next("agent.session_created", { metadata: { resume_token: "t", agent_name: "weather_agent" } });
  }

  delta(text: string, metadata: Record<string, unknown> = { step: 1 }): ServerEvent {
    return this.next("agent.partial_answer", { content: text, metadata });
  }

  final(text: string, metadata: Record<string, unknown> = { steps: 1 }): ServerEvent {
    return this.next("agent.final_answer", { content: text, metadata });
  }

  toolCall(callId: string, tool: string, args: unknown, extra: Record<string, unknown> = {}): ServerEvent {
    return this.next("agent.tool_call", {
      step_id: callId,
      content: `调用工具: ${tool}`,
      metadata: { tool, args, status: "running", tool_name: tool, call_id: callId, tool_args: args, ...extra },
    });
  }

  confirm(callId: string, tool: string, args: unknown, expiresAt: string, extra: Record<string, unknown> = {}): ServerEvent {
    return this.next("agent.user_confirm", {
      step_id: `confirm_${callId}_${tool}`,
      content: `确认执行工具: ${tool}`,
      metadata: {
        tool_name: tool,
        tool_description: `${tool} does things`,
        tool_args: args,
        requires_confirmation: true,
        call_id: callId,
        scope: "tool",
        expires_at: expiresAt,
        timeout_seconds: 300,
        ...extra,
      },
    });
  }

  toolResult(callId: string, tool: string, status: string, fields: Record<string, unknown> = {}): ServerEvent {
    const { content = "ok", ...metadata } = fields;
    return this.next("agent.tool_result", {
      step_id: callId,
      content,
      metadata: { tool, status, error: null, data: null, tool_name: tool, call_id: callId, ...metadata },
    });
  }
}

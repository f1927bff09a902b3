/** Small readers of server frames: the generated types describe them, these read them safely. */
import type { ServerEvent } from "./generated/events.js";
import { closesRun, SystemEvents } from "./generated/protocol.js";

/** `metadata` of a frame as a plain object (`{}` when absent). */
export function eventMetadata(event: ServerEvent): Record<string, unknown> {
  const meta = (event as { metadata?: unknown }).metadata;
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
}

/** `content` as text: the string itself, `""` for none, JSON for structured content. */
export function eventText(event: ServerEvent): string {
  const content = (event as { content?: unknown }).content;
  if (content === undefined || content === null) return "";
  return typeof content === "string" ? content : JSON.stringify(content);
}

/** `seq` of a sequenced event (`undefined` for connection-level frames and request errors). */
export function eventSeq(event: ServerEvent): number | undefined {
  const seq = (event as { seq?: unknown }).seq;
  return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : undefined;
}

export function eventSessionId(event: ServerEvent): string | undefined {
  const sid = (event as { session_id?: unknown }).session_id;
  return typeof sid === "string" ? sid : undefined;
}

export function eventStepId(event: ServerEvent): string | undefined {
  const step = (event as { step_id?: unknown }).step_id;
  return typeof step === "string" ? step : undefined;
}

/** Whether the event closes a run of the session's agent (not of a Plan & Solve sub-agent). */
export function isFinal(event: ServerEvent): boolean {
  return closesRun({ event: event.event, seq: eventSeq(event) ?? null }) && eventMetadata(event)["origin"] == null;
}

/** A frame parsed from the wire, or `null` when it is not a JSON object with an `event` name. */
export function parseFrame(data: unknown): ServerEvent | null {
  if (typeof data !== "string") return null;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return null;
  return typeof (frame as { event?: unknown }).event === "string" ? (frame as ServerEvent) : null;
}

/** A replay-gap `system.error`: `[first, last]` seq of the events no longer retained. */
export function gapRange(event: ServerEvent): [number, number] | null {
  if (event.event !== SystemEvents.ERROR) return null;
  const meta = eventMetadata(event);
  if (meta["error_code"] !== "REPLAY_GAP") return null;
  const details = meta["details"] as Record<string, unknown> | undefined;
  const first = details?.["missing_from_seq"];
  const last = details?.["missing_to_seq"];
  return typeof first === "number" && typeof last === "number" ? [first, last] : [0, 0];
}

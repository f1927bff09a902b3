/** Safe readers of a server frame's fields: frames come from the network and may be malformed. */
import type { TaskId } from "./state.js";

export type Frame = Record<string, unknown> & { event: string };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function metaOf(frame: Frame): Record<string, unknown> {
  return isObject(frame.metadata) ? frame.metadata : {};
}

export function contentObject(frame: Frame): Record<string, unknown> {
  return isObject(frame.content) ? frame.content : {};
}

/** `content` as text: the string, `""` for none, JSON for anything else. */
export function contentText(frame: Frame): string {
  const content = frame.content;
  if (content === undefined || content === null) return "";
  return typeof content === "string" ? content : JSON.stringify(content);
}

export function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

export function strOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

export function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** `seq` of a sequenced frame, else `null`. */
export function seqOf(frame: Frame): number | null {
  const seq = frame.seq;
  return typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

export function taskIdOf(value: unknown): TaskId | null {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value)) ? value : null;
}

/** An ISO time as milliseconds since the epoch, `null` when absent or unreadable. */
export function timeOf(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * What `useAgentSession` keeps in `localStorage` (or any Web Storage) so a reload continues the
 * conversation: the session's id and resume token, the last signed state the server exported, and the
 * screen state (the conversation as shown). Stored data is read defensively: anything unexpected counts
 * as nothing saved.
 */
import type { SignedState, StorageLike } from "@myagent/client";
import { isObject } from "./read.js";
import { type AgentSessionState, initialState } from "./state.js";

export const SAVED_FORMAT = 1;

export interface SavedSession {
  format: typeof SAVED_FORMAT;
  url: string;
  sessionId: string;
  resumeToken: string;
  signedState: SignedState | null;
  /** The screen state; `null` when it did not fit in the storage (the session is still resumed). */
  view: AgentSessionState | null;
  savedAt: number;
}

/** The default storage: `localStorage` where there is one (and it is usable), else nothing. */
export function defaultStorage(): StorageLike | null {
  try {
    const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
    return storage ?? null;
  } catch {
    return null; // e.g. a sandboxed iframe: reading localStorage throws
  }
}

export function loadSaved(storage: StorageLike | null, key: string): SavedSession | null {
  if (storage === null) return null;
  let value: unknown;
  try {
    const text = storage.getItem(key);
    if (text === null) return null;
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || value.format !== SAVED_FORMAT) return null;
  if (typeof value.sessionId !== "string" || typeof value.resumeToken !== "string") return null;
  return {
    format: SAVED_FORMAT,
    url: typeof value.url === "string" ? value.url : "",
    sessionId: value.sessionId,
    resumeToken: value.resumeToken,
    signedState: isObject(value.signedState) ? value.signedState : null,
    view: viewOf(value.view),
    savedAt: typeof value.savedAt === "number" ? value.savedAt : 0,
  };
}

/** A saved screen state, completed with defaults; `null` when it is not one. */
function viewOf(value: unknown): AgentSessionState | null {
  if (!isObject(value) || !Array.isArray(value.messages) || !isObject(value.tools)) return null;
  if (typeof value.lastSeq !== "number" || typeof value.nextId !== "number") return null;
  const messagesOk = value.messages.every(
    (m) => isObject(m) && (m.role === "user" || (m.role === "assistant" && Array.isArray(m.parts))),
  );
  return messagesOk ? { ...initialState(), ...(value as Partial<AgentSessionState>) } : null;
}

/** Keep `saved`; without the screen state when the whole does not fit. Returns whether anything was kept. */
export function storeSaved(storage: StorageLike | null, key: string, saved: SavedSession): boolean {
  if (storage === null) return false;
  try {
    storage.setItem(key, JSON.stringify(saved));
    return true;
  } catch {
    try {
      storage.setItem(key, JSON.stringify({ ...saved, view: null }));
      return true;
    } catch {
      return false;
    }
  }
}

export function clearSaved(storage: StorageLike | null, key: string): void {
  try {
    storage?.removeItem(key);
  } catch {
    // nothing kept, nothing to remove
  }
}

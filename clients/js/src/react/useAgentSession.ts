/** `useAgentSession`: one agent session as React state, with the actions a chat screen needs. */
import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import type { AgentClient, Session } from "@myagent/client";
import { AgentSessionController, type AgentSessionOptions } from "./controller.js";
import { defaultStorage } from "./persist.js";
import type { AgentSessionState, TaskId } from "./state.js";

export interface UseAgentSessionOptions extends AgentSessionOptions {}

export interface AgentSessionHandle extends AgentSessionState {
  /** Ask the agent; resolves when the run ended (its events are already in the state). */
  send(text: string): Promise<void>;
  /** Cancel the run in progress (`user.cancel`); true once the server stopped it. */
  stop(): Promise<boolean>;
  /** Answer the pending confirmation (`confirmation`); `tasks` edits a plan confirmation. */
  respond(confirmed: boolean, options?: { message?: string; tasks?: unknown[] }): Promise<void>;
  /** Plan & Solve: cancel one task; true when the server did. */
  cancelTask(taskId: TaskId): Promise<boolean>;
  /** Plan & Solve: run one task again; true when the server did. */
  restartTask(taskId: TaskId): Promise<boolean>;
  cancelPlan(): Promise<boolean>;
  replan(question?: string): Promise<boolean>;
  /** Connect now: skip the wait between reconnect attempts, or start again after the client gave up. */
  reconnect(): void;
  /** Forget this conversation (and what storage kept of it) and start a new session. */
  reset(): Promise<void>;
  /** The underlying session and client, for anything else (`null` until connected). */
  session: Session | null;
  client: AgentClient | null;
}

/**
 * One agent session as React state. On mount it connects to `url` and resumes the session kept in
 * `localStorage` (replaying what it missed), restores it from its signed state when the server no longer
 * knows it, or creates one. The returned object is the session's state (`messages`, `tools`,
 * `confirmation`, `plan`, `connection`, `busy`...) and its actions.
 */
export function useAgentSession(options: UseAgentSessionOptions): AgentSessionHandle {
  const { url, storageKey } = options;
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const controller = useMemo(() => {
    const current = optionsRef.current;
    const storage = current.storage === undefined ? defaultStorage() : current.storage;
    return new AgentSessionController(current, storage);
  }, [url, storageKey]);

  useEffect(() => {
    controller.start();
    return () => controller.dispose();
  }, [controller]);

  const state = useSyncExternalStore(controller.store.subscribe, controller.store.getSnapshot, controller.store.getSnapshot);
  const send = useCallback((text: string) => controller.send(text), [controller]);
  const stop = useCallback(() => controller.stop(), [controller]);
  const respond = useCallback(
    (confirmed: boolean, answer?: { message?: string; tasks?: unknown[] }) => controller.respond(confirmed, answer),
    [controller],
  );
  const cancelTask = useCallback((taskId: TaskId) => controller.controlTask(taskId, "cancel"), [controller]);
  const restartTask = useCallback((taskId: TaskId) => controller.controlTask(taskId, "restart"), [controller]);
  const cancelPlan = useCallback(() => controller.cancelPlan(), [controller]);
  const replan = useCallback((question?: string) => controller.replan(question), [controller]);
  const reset = useCallback(() => controller.reset(), [controller]);
  const reconnect = useCallback(() => controller.reconnect(), [controller]);

  return {
    ...state,
    send,
    stop,
    respond,
    cancelTask,
    restartTask,
    cancelPlan,
    replan,
    reset,
    reconnect,
    session: controller.session,
    client: controller.client,
  };
}

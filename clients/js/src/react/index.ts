/**
 * `@myagent/client/react`: the `useAgentSession` hook and the pure state it is built on (docs/react.md).
 * React is an optional peer dependency of `@myagent/client`: only this entry imports it.
 */
export { useAgentSession } from "./useAgentSession.js";
export type { AgentSessionHandle, UseAgentSessionOptions } from "./useAgentSession.js";
export { AgentSessionController } from "./controller.js";
export type { AgentSessionOptions } from "./controller.js";
export { animationFrame, every, SessionStore } from "./store.js";
export type { Scheduler } from "./store.js";
export { clearSaved, loadSaved, SAVED_FORMAT, storeSaved } from "./persist.js";
export type { SavedSession } from "./persist.js";
export * from "./state.js";
export { messageRejected, reduce, toolKey } from "./reduce.js";
export {
  addUserMessage,
  clearError,
  clientError,
  expireConfirmations,
  markResponded,
  markTaskControl,
  nextExpiry,
  revived,
  setConnection,
} from "./local.js";

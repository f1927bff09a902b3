/**
 * `@myagent/client/react`: the `useAgentSession` hook and the pure state it is built on.
 * React is an optional peer dependency of `@myagent/client`: only this entry imports it.
 */
export * from "./state.js";
export { reduce, toolKey } from "./reduce.js";
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

/** `@myagent/client`: the TypeScript client of the myagent WebSocket protocol (docs/js-client.md). */
export { AgentClient } from "./client.js";
export type { AgentClientOptions, ClientEvents, ConnectionStatus, StatusChange, TokenSource } from "./client.js";
export { Session } from "./session.js";
export type { SendOptions, SessionEvents } from "./session.js";
export { RunStream } from "./run.js";
export type { ConfirmAnswer, ConfirmCallback, ConfirmRequest } from "./run.js";
export { MemoryStateStore, WebStorageStateStore } from "./state-store.js";
export type { SignedState, StateStore, StorageLike } from "./state-store.js";
export type { SocketLike, WebSocketConstructor } from "./transport.js";
export {
  AuthenticationError,
  ClientConnectionError,
  ClientError,
  ClientProtocolError,
  ConnectionLostError,
  RequestTimeoutError,
  RunFailedError,
  RunInterruptedError,
  RunLostError,
  SessionClosedError,
  SessionTakenOverError,
} from "./errors.js";
export { eventMetadata, eventSeq, eventText, isFinal } from "./frames.js";
export * from "./generated/protocol.js";
export type * from "./generated/events.js";

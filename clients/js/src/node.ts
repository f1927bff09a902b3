/**
 * `@myagent/client/node`: the same API with the `ws` package as the WebSocket, so that a token goes in
 * the handshake's `Authorization` header. `ws` is an optional peer dependency: install it next to this.
 */
import { AgentClient as BaseClient, type AgentClientOptions, type WebSocketConstructor } from "@myagent/client";
import WebSocket from "ws";

export * from "@myagent/client";

/** `AgentClient` on `ws`; tokens go in the `Authorization` header unless `authMode: "frame"`. */
export class AgentClient extends BaseClient {
  constructor(url: string, options: AgentClientOptions = {}) {
    super(url, {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      authMode: "header",
      ...options,
    });
  }
}

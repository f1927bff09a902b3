/** The WebSocket the client drives: the browser's `WebSocket`, Node's global one, or the `ws` package. */

/** The part of a WebSocket the client uses (the DOM `WebSocket` and `ws` both have it). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the connection at once, as a network failure would. */
  terminate?(): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor: `new (url, protocols?, options?)`; `ws` reads `options.headers`. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => SocketLike;

export const OPEN = 1;

/** The global `WebSocket` (browsers, Deno, Bun, Node ≥ 22), or `undefined`. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === "function" ? (candidate as WebSocketConstructor) : undefined;
}

/**
 * A scripted myagent server for unit tests: a real `ws` WebSocketServer on a free port whose
 * connections the test drives frame by frame (it greets like the real server unless told not to).
 */
import type { IncomingMessage } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

export type Frame = Record<string, unknown> & { event: string };

export class FakeConnection {
  private readonly inbox: Frame[] = [];
  private readonly waiters: Array<{ match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }> = [];
  /** Every frame the client sent on this connection, in order. */
  readonly received: Frame[] = [];
  closed: Promise<number>;

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.received.push(frame);
      const index = this.waiters.findIndex((w) => w.match(frame));
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(frame);
      else this.inbox.push(frame);
    });
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ timestamp: new Date().toISOString(), ...frame }));
  }

  sendRaw(data: string): void {
    this.ws.send(data);
  }

  /** The next frame from the client named `event` (frames of other names stay for later calls). */
  next(event?: string): Promise<Frame> {
    const match = (frame: Frame): boolean => event === undefined || frame.event === event;
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as Frame);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Drop the TCP connection without a close frame, as a failing network would. */
  drop(): void {
    this.ws.terminate();
  }
}

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  private readonly waiting: Array<(connection: FakeConnection) => void> = [];
  greet = true;

  private constructor(readonly wss: WebSocketServer) {
    wss.on("connection", (ws, request) => {
      const connection = new FakeConnection(ws, request);
      this.connections.push(connection);
      if (this.greet) {
        connection.send({
          event: "system.connected",
          content: "connected",
          metadata: { connection_id: `c${this.connections.length}`, heartbeat_interval: 30 },
        });
      }
      this.waiting.shift()?.(connection);
    });
  }

  static start(): Promise<FakeServer> {
    return new Promise((resolve) => {
      const wss: WebSocketServer = new WebSocketServer({ port: 0, host: "127.0.0.1" }, (): void => {
        resolve(new FakeServer(wss));
      });
    });
  }

  get url(): string {
    const address = this.wss.address();
    if (typeof address === "string" || address === null) throw new Error("not listening");
    return `ws://127.0.0.1:${address.port}/`;
  }

  /** The next connection (or the one already made and not yet taken, by index). */
  connection(index: number): Promise<FakeConnection> {
    const made = this.connections[index];
    if (made !== undefined) return Promise.resolve(made);
    return new Promise((resolve) => {
      const check = (connection: FakeConnection): void => {
        if (this.connections.indexOf(connection) === index) resolve(connection);
        else this.waiting.push(check);
      };
      this.waiting.push(check);
    });
  }

  close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** Frames of a session as the real server sends them. */
export function sessionEvents(sessionId: string) {
  const make = (event: string, seq: number, extra: Record<string, unknown> = {}): Frame => ({
    event,
    session_id: sessionId,
    seq,
    event_id: `${sessionId}:${seq}`,
    ...extra,
  });
  return {
    created: (seq = 1, token = "tok-1") =>
      make("agent.session_created", seq, { content: "ok", metadata: { resume_token: token } }),
    partial: (seq: number, text = `p${seq}`) => make("agent.partial_answer", seq, { content: text }),
    final: (seq: number, text = "done") => make("agent.final_answer", seq, { content: text }),
    thinking: (seq: number) => make("agent.thinking", seq, { content: "..." }),
    make,
  };
}

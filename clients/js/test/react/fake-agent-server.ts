/**
 * A small protocol server on a real local socket for the hook's tests: sessions with seq and resume
 * tokens, replay on `user.reconnect`, confirmations, cancel, task controls and signed states. The agent
 * is a script the test gives (`onMessage`). The real server is tested against the example in
 * tests/browser/test_react_example.py.
 */
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

type Frame = Record<string, unknown>;

export interface FakeSession {
  id: string;
  token: string;
  log: Frame[];
  socket: WebSocket | null;
  answers: Map<string, (confirmed: boolean) => void>;
}

export interface AgentTurn {
  session: FakeSession;
  text: string;
  /** Send a sequenced event of the session. */
  emit(event: string, fields?: Frame): void;
  /** Wait for the user's answer to a confirmation this turn asked for. */
  answer(stepId: string): Promise<boolean>;
}

export class FakeAgentServer {
  readonly sessions = new Map<string, FakeSession>();
  readonly received: Frame[] = [];
  onMessage: (turn: AgentTurn) => void | Promise<void> = (turn) => turn.emit("agent.final_answer", { content: "ok" });
  /** Sessions the server "lost" (as after a restart): reconnects to them fail with SESSION_NOT_FOUND. */
  readonly forgotten = new Set<string>();
  private wss: WebSocketServer | null = null;
  private counter = 0;

  get url(): string {
    const port = (this.wss?.address() as AddressInfo).port;
    return `ws://127.0.0.1:${port}`;
  }

  /** Listen (again) on `port`; sessions survive a stop and start, as with a server that keeps them. */
  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port });
    await new Promise<void>((resolve) => this.wss?.once("listening", () => resolve()));
    this.wss.on("connection", (socket) => {
      send(socket, { event: "system.connected", metadata: { connection_id: `c${++this.counter}`, heartbeat_interval: 30 } });
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Frame;
        this.received.push(frame);
        void this.handle(socket, frame);
      });
    });
  }

  async stop(): Promise<void> {
    for (const client of this.wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => this.wss?.close(() => resolve()));
  }

  /** Drop every connection at once, as a network failure would. */
  dropConnections(): void {
    for (const client of this.wss?.clients ?? []) client.terminate();
    for (const session of this.sessions.values()) session.socket = null;
  }

  sent(event: string): Frame[] {
    return this.received.filter((f) => f.event === event);
  }

  private newSession(socket: WebSocket): FakeSession {
    const session: FakeSession = {
      id: `sess-${++this.counter}`,
      token: `tok-${this.counter}`,
      log: [],
      socket,
      answers: new Map(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  emit(session: FakeSession, event: string, fields: Frame = {}): void {
    const seq = session.log.length + 1;
    const frame = { event, timestamp: new Date().toISOString(), session_id: session.id, seq, event_id: `${session.id}:${seq}`, ...fields };
    session.log.push(frame);
    if (session.socket !== null) send(session.socket, frame);
  }

  private async handle(socket: WebSocket, frame: Frame): Promise<void> {
    const session = typeof frame.session_id === "string" ? this.sessions.get(frame.session_id) : undefined;
    switch (frame.event) {
      case "user.create_session": {
        const created = this.newSession(socket);
        this.emit(created, "agent.session_created", { metadata: { resume_token: created.token, agent_name: "fake_agent" } });
        return;
      }
      case "user.message": {
        if (session === undefined) return;
        const turn: AgentTurn = {
          session,
          text: String(frame.content),
          emit: (event, fields) => this.emit(session, event, fields),
          answer: (stepId) => new Promise((resolve) => session.answers.set(stepId, resolve)),
        };
        await this.onMessage(turn);
        return;
      }
      case "user.response": {
        const content = frame.content as Frame;
        session?.answers.get(String(frame.step_id))?.(content.confirmed === true);
        return;
      }
      case "user.cancel":
        if (session !== undefined) this.emit(session, "agent.interrupted", { metadata: { reason: "user_cancel" } });
        return;
      case "user.request_state":
        if (session !== undefined) {
          const signed = { state: { session_id: session.id, messages: session.log.length }, signature: "sig" };
          this.emit(session, "agent.state_exported", { metadata: { signed_state: signed } });
        }
        return;
      case "user.reconnect":
        return this.reconnect(socket, frame, session);
      case "user.reconnect_with_state": {
        const restored = this.newSession(socket);
        const from = ((frame.signed_state as Frame).state as Frame).session_id;
        this.emit(restored, "agent.state_restored", {
          metadata: { original_session_id: from, resume_token: restored.token, message_count: 2, reattached: false },
        });
        return;
      }
      case "user.cancel_task":
      case "user.restart_task": {
        const taskId = (frame.content as Frame).task_id;
        const action = String(frame.event).slice("user.".length);
        send(socket, { event: "system.notice", session_id: session?.id, metadata: { action, ok: true, task_id: taskId } });
        return;
      }
      default:
    }
  }

  private reconnect(socket: WebSocket, frame: Frame, session: FakeSession | undefined): void {
    if (session === undefined || this.forgotten.has(session.id) || frame.resume_token !== session.token) {
      send(socket, {
        event: "agent.error",
        session_id: frame.session_id,
        content: "no such session",
        metadata: { error_code: "SESSION_NOT_FOUND", request_event: "user.reconnect" },
      });
      return;
    }
    const last = typeof frame.last_event_id === "string" ? Number(frame.last_event_id.split(":").pop()) : Number(frame.last_seq ?? 0);
    const missed = session.log.filter((f) => (f.seq as number) > last);
    session.socket = socket;
    session.token = `${session.token}+`;
    send(socket, {
      event: "system.notice",
      session_id: session.id,
      metadata: { action: "reconnect", replay_count: missed.length, last_seq: session.log.length, busy: false, resume_token: session.token },
    });
    for (const f of missed) send(socket, f);
  }
}

function send(socket: WebSocket, frame: Frame): void {
  socket.send(JSON.stringify({ timestamp: new Date().toISOString(), ...frame }));
}

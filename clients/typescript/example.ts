// A small browser client typed with myagent-events.d.ts. It is type-checked by
// tests/test_typescript_types.py (`tsc -p clients/typescript`), so it stays in step with the protocol.
// The `@ts-expect-error` lines are mistakes the types must catch: tsc fails if one compiles.

import type {
  ClientEvent,
  ErrorCode,
  ServerEvent,
  ServerEventMap,
  ServerEventName,
  UserReconnectEvent,
  UserResponseEvent,
} from "./myagent-events";

type Handler<K extends ServerEventName> = (event: ServerEventMap[K]) => void;

/** Connects, keeps the resume position and dispatches typed events. */
export class MyAgentClient {
  private ws?: WebSocket;
  private sessionId?: string;
  private resumeToken?: string;
  private lastEventId?: string;
  private readonly handlers = new Map<ServerEventName, Array<(event: ServerEvent) => void>>();

  constructor(private readonly url: string) {}

  on<K extends ServerEventName>(name: K, handler: Handler<K>): void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler as (event: ServerEvent) => void);
    this.handlers.set(name, list);
  }

  connect(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (message: MessageEvent<string>) => this.receive(JSON.parse(message.data) as ServerEvent);
    ws.onopen = () => {
      if (this.sessionId && this.resumeToken) {
        const resume: UserReconnectEvent = {
          event: "user.reconnect",
          session_id: this.sessionId,
          resume_token: this.resumeToken,
          last_event_id: this.lastEventId,
        };
        this.send(resume);
      } else {
        this.send({ event: "user.create_session" });
      }
    };
  }

  send(frame: ClientEvent): void {
    this.ws?.send(JSON.stringify(frame));
  }

  ask(question: string): void {
    if (!this.sessionId) throw new Error("no session yet");
    this.send({ event: "user.message", session_id: this.sessionId, content: question });
  }

  private receive(event: ServerEvent): void {
    if ("event_id" in event) this.lastEventId = event.event_id;
    switch (event.event) {
      case "agent.session_created":
        this.sessionId = event.session_id;
        this.resumeToken = event.metadata.resume_token; // required: no undefined check needed
        break;
      case "agent.user_confirm": {
        const answer: UserResponseEvent = {
          event: "user.response",
          session_id: event.session_id,
          step_id: event.step_id ?? "",
          content: { confirmed: event.metadata?.tool_name === "get_weather", message: "only weather lookups" },
        };
        this.send(answer);
        break;
      }
      case "system.error": {
        const code: ErrorCode = event.metadata.error_code;
        if (code === "SESSION_NOT_FOUND") this.sessionId = undefined;
        break;
      }
    }
    for (const handler of this.handlers.get(event.event) ?? []) handler(event);
  }
}

const client = new MyAgentClient("ws://localhost:8080/");
client.on("agent.partial_answer", (event) => console.log(event.content, event.seq));
client.on("agent.final_answer", (event) => console.log(event.content, event.metadata?.usage));
client.on("agent.tool_result", (event) => console.log(event.metadata?.status, event.metadata?.data));
client.on("solver.completed", (event) => console.log(event.metadata?.task_id));
client.connect();

// -- mistakes the types catch ------------------------------------------------------------------

// @ts-expect-error: not an event of the protocol
client.on("agent.final_anwser", () => undefined);

// @ts-expect-error: user.message needs a session_id
client.send({ event: "user.message", content: "hi" });

// @ts-expect-error: confirmed is a boolean
client.send({ event: "user.response", session_id: "s", step_id: "c", content: { confirmed: "yes" } });

// @ts-expect-error: user.response needs the step_id of the confirmation
client.send({ event: "user.response", session_id: "s", content: { confirmed: true } });

// @ts-expect-error: not an error code
export const wrongCode: ErrorCode = "SESSION_GONE";

export function seqOf(event: ServerEventMap["system.notice"]): number {
  // @ts-expect-error: system.* events are not sequenced
  return event.seq;
}

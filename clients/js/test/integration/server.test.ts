/** The client against the real server (examples/weather_agent.py on the offline model). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  AgentClient as BrowserStyleClient,
  type AgentClientOptions,
  AuthenticationError,
  MemoryStateStore,
  RunInterruptedError,
  type ServerEvent,
  type Session,
  type WebSocketConstructor,
} from "../../src/index.js";
import { AgentClient } from "../../src/node.js";
import { RealServer } from "./server.js";

const clients: Array<{ close(): Promise<void> }> = [];

function connectTo(url: string, options: AgentClientOptions = {}): AgentClient {
  const client = new AgentClient(url, { initialBackoff: 50, maxBackoff: 500, ...options });
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const seqOf = (event: ServerEvent): number | undefined => ("seq" in event ? event.seq : undefined);
const metaOf = (event: ServerEvent): Record<string, unknown> =>
  ("metadata" in event ? (event.metadata as Record<string, unknown> | undefined) : undefined) ?? {};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("weather agent", () => {
  let server: RealServer;
  beforeAll(async () => {
    server = await RealServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("delivers every event exactly once when the socket drops mid-answer", async () => {
    const client = connectTo(server.url);
    await client.connect();
    const session = await client.createSession();
    const seen: number[] = [];
    let replayed = 0;
    let dropped = false;
    session.subscribe((e) => {
      const seq = seqOf(e);
      if (seq !== undefined) seen.push(seq);
      if (e.event === "system.notice" && metaOf(e)["action"] === "reconnect") replayed = Number(metaOf(e)["replay_count"]);
      if (!dropped && e.event === "agent.partial_answer") {
        dropped = true; // subscribers run as each frame arrives: the frames after this one are lost with the socket
        client.dropConnection();
      }
    });
    const run: ServerEvent[] = [];
    for await (const event of session.send("北京和上海的天气怎么样？")) run.push(event);
    expect(dropped).toBe(true);
    expect(client.reconnects).toBe(1);
    expect(replayed).toBeGreaterThan(0); // the rest of the answer came again from the server's log
    const last = run.at(-1);
    expect(last?.event).toBe("agent.final_answer");
    expect(String(last && "content" in last ? last.content : "")).toContain("上海");
    const seqs = run.map(seqOf);
    expect(seqs).toEqual(range(2, seqs.length + 1)); // gapless, each once, from the first run event
    expect(seen).toEqual(range(2, seqs.length + 1));
    expect(run.filter((e) => e.event === "agent.partial_answer").length).toBeGreaterThan(1);
  });

  it("browser style (the global WebSocket): every event exactly once across a dropped connection", async () => {
    expect(typeof globalThis.WebSocket).toBe("function");
    const client = new BrowserStyleClient(server.url, { initialBackoff: 50 });
    clients.push(client);
    await client.connect();
    const session = await client.createSession();
    let delivered = 0;
    session.subscribe(() => {
      delivered += 1;
      if (delivered === 3) client.dropConnection();
    });
    const run = await session.send("广州和深圳的天气怎么样？").collect();
    expect(client.reconnects).toBe(1);
    expect(run.map(seqOf)).toEqual(range(2, run.length + 1));
    expect(run.at(-1)?.event).toBe("agent.final_answer");
  });

  it("a second client (a reloaded page) resumes the session by token and gets what it missed once", async () => {
    // A page that dies: no reconnect, and no ACK after the first (acknowledged events may be dropped).
    const first = connectTo(server.url, { reconnect: false, ackInterval: 600_000 });
    await first.connect();
    const session = await first.createSession();
    await session.ask("北京天气怎么样？");
    const [id, token, position] = [session.sessionId, session.resumeToken, 3];
    const total = session.lastSeq;
    first.dropConnection(); // the session stays on the server for its grace period

    const second = connectTo(server.url);
    await second.connect();
    const resumed = await second.resumeSession(id, token, { lastSeq: position });
    const replayed: number[] = [];
    resumed.subscribe((e) => {
      const seq = seqOf(e);
      if (seq !== undefined) replayed.push(seq);
    });
    expect(replayed).toEqual(range(position + 1, total));
    expect(await resumed.ask("上海呢？")).toContain("上海");
    expect(resumed.lastSeq).toBeGreaterThan(total);
  });

  it("runs a tool that needs confirmation once the user confirms it", async () => {
    const client = connectTo(server.url);
    await client.connect();
    const session = await client.createSession();
    const events: ServerEvent[] = [];
    for await (const event of session.send("订阅上海的天气预警")) {
      events.push(event);
      if (event.event === "agent.user_confirm") await session.confirm(event.step_id ?? "", true);
    }
    const result = events.find((e) => e.event === "agent.tool_result");
    expect(metaOf(result as ServerEvent)["status"]).toBe("success");
    expect(events.at(-1)?.event).toBe("agent.final_answer");
  });

  it("a refused confirmation reaches the model as refused", async () => {
    const client = connectTo(server.url, { confirm: () => ({ confirmed: false, message: "不要" }) });
    await client.connect();
    const session = await client.createSession();
    const events = await session.send("订阅上海的天气预警").collect();
    const result = events.find((e) => e.event === "agent.tool_result");
    expect(metaOf(result as ServerEvent)["status"]).toBe("refused");
  });

  it("cancel() stops a run waiting for a confirmation; ask() rejects with RunInterruptedError", async () => {
    const client = connectTo(server.url);
    await client.connect();
    const session = await client.createSession();
    let cancelled: Promise<boolean> | undefined;
    session.subscribe((event) => {
      if (event.event === "agent.user_confirm") cancelled = session.cancel();
    });
    await expect(session.ask("订阅北京的天气预警")).rejects.toBeInstanceOf(RunInterruptedError);
    expect(await cancelled).toBe(true);
    expect(session.busy).toBe(false);
    expect(await session.ask("北京天气怎么样？")).toContain("北京");
  });
});

describe("restart", () => {
  const secret = "js-client-test-secret-0123456789abcdef";
  let server: RealServer;
  afterAll(async () => {
    await server.stop();
  });

  it("restores the session from its signed state when the server restarted", async () => {
    server = await RealServer.start(["--state-secret-key", secret]);
    const store = new MemoryStateStore();
    const client = connectTo(server.url, { stateStore: store, maxReconnectAttempts: 100 });
    await client.connect();
    const session: Session = await client.createSession();
    expect(await session.ask("北京天气怎么样？")).toContain("北京");
    await session.exportState();
    const before = session.sessionId;
    const restored = new Promise<ServerEvent>((resolve) =>
      session.subscribe((e) => e.event === "agent.state_restored" && resolve(e)),
    );
    await server.stop();
    server = await RealServer.start(["--state-secret-key", secret], { port: server.port });
    const event = await restored;
    expect(Number(metaOf(event)["message_count"])).toBeGreaterThan(0);
    expect(session.sessionId).not.toBe(before);
    expect(await session.ask("上海呢？")).toContain("上海");

    // A new page or process continues the conversation from the saved state alone.
    const later = connectTo(server.url);
    await later.connect();
    const again = await later.restoreSession(await session.exportState());
    expect(await again.ask("广州天气怎么样？")).toContain("广州");
  });
});

describe("authentication", () => {
  let server: RealServer;
  const hook = "clients/js/test/integration/auth_tokens.py:authenticate";
  beforeAll(async () => {
    server = await RealServer.start(["--auth", hook]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("Node: the token in the Authorization header is accepted", async () => {
    const client = connectTo(server.url, { token: "js-client-token" });
    await client.connect();
    const session = await client.createSession();
    expect(await session.ask("深圳天气怎么样？")).toContain("深圳");
    await client.authenticate(); // a refresh on the open connection (user.authenticate)
    expect(await session.ask("广州天气怎么样？")).toContain("广州");
  });

  it("Node: a wrong token is refused at the handshake", async () => {
    const client = connectTo(server.url, { token: "wrong" });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe(401);
  });

  it("browser style: the token in a first user.authenticate frame is accepted, a wrong one refused", async () => {
    const good = new BrowserStyleClient(server.url, { token: () => "js-client-token" }); // the global WebSocket
    clients.push(good);
    await good.connect();
    expect((await good.createSession()).sessionId).not.toBe("");
    const bad = new BrowserStyleClient(server.url, { token: "wrong" });
    clients.push(bad);
    const error = await bad.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe(4401);
  });

  it("with ws in frame mode (no header), the first frame carries the token", async () => {
    const Socket = WebSocket as unknown as WebSocketConstructor;
    const client = connectTo(server.url, { WebSocket: Socket, token: "js-client-token", authMode: "frame" });
    await client.connect();
    expect(await (await client.createSession()).ask("北京天气怎么样？")).toContain("北京");
  });
});

describe("Plan & Solve", () => {
  let server: RealServer;
  beforeAll(async () => {
    server = await RealServer.start([], { agent: "plan_solve_report.py" });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("a planned run ends with the report, not with a solver's answer; direct tasks and a restart end too", async () => {
    const client = connectTo(server.url);
    await client.connect();
    const session = await client.createSession();
    const report = await session.send("Write a sales report").collect();
    const names = report.map((e) => e.event);
    expect(names).toContain("plan.start");
    expect(names).toContain("aggregate.completed");
    expect(names.filter((n) => n === "solver.completed").length).toBeGreaterThan(1);
    expect(report.at(-1)?.event).toBe("agent.final_answer");
    expect(metaOf(report.at(-1) as ServerEvent)["origin"]).toBeUndefined();

    const direct = await session.solveTasks([{ id: 1, title: "示例页", objective: "展示销售概览" }]).collect();
    expect(direct.at(-1)?.event).toBe("pipeline.tasks_completed");
    expect(direct.some((e) => e.event === "solver.completed" && metaOf(e)["task_id"] === 1)).toBe(true);

    const rerun: string[] = [];
    const over = new Promise<void>((resolve) =>
      session.subscribe((e) => {
        rerun.push(e.event);
        if (e.event === "pipeline.tasks_completed") resolve();
      }),
    );
    expect(await session.restartTask(1)).toBe(true); // idle: a new run for that task, seen by subscribers
    await over;
    expect(rerun).toContain("solver.restarted");
    expect(session.busy).toBe(false);
  });
});

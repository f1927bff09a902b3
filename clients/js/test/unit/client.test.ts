/** The client against a scripted server (test/fake-server.ts): runs, de-dup, ACKs, reconnect, restore, auth. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  AgentClient,
  type AgentClientOptions,
  AuthenticationError,
  ClientProtocolError,
  ConnectionLostError,
  MemoryStateStore,
  RunInterruptedError,
  type ServerEvent,
  type StatusChange,
  type WebSocketConstructor,
} from "../../src/index.js";
import { type FakeConnection, FakeServer, type Frame, sessionEvents } from "../fake-server.js";

const Socket = WebSocket as unknown as WebSocketConstructor;
let server: FakeServer;
let client: AgentClient;

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  await client?.close();
  await server.close();
});

/** A client with test defaults; it keeps `options` itself, so a test may change them later. */
function makeClient(options: AgentClientOptions = {}): AgentClient {
  options.WebSocket ??= Socket;
  options.initialBackoff ??= 10;
  options.random ??= () => 0.5;
  client = new AgentClient(server.url, options);
  return client;
}

/** Connect and create session `s1` (seq 1); returns the server side of the connection. */
async function open(options: AgentClientOptions = {}) {
  makeClient(options);
  await client.connect();
  const conn = await server.connection(0);
  const creating = client.createSession();
  await conn.next("user.create_session");
  conn.send(sessionEvents("s1").created());
  return { conn, session: await creating, ev: sessionEvents("s1") };
}

const seqs = (events: ServerEvent[]): Array<number | undefined> => events.map((e) => ("seq" in e ? e.seq : undefined));

describe("runs", () => {
  it("streams a run's events in order and ends with the closing event", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("hi").collect();
    const message = await conn.next("user.message");
    expect(message).toMatchObject({ session_id: "s1", content: "hi" });
    for (const frame of [ev.thinking(2), ev.partial(3), ev.partial(4), ev.final(5, "answer")]) conn.send(frame);
    const events = await run;
    expect(events.map((e) => e.event)).toEqual([
      "agent.thinking",
      "agent.partial_answer",
      "agent.partial_answer",
      "agent.final_answer",
    ]);
    expect(session.busy).toBe(false);
  });

  it("ask() resolves with the final answer and rejects on an interruption", async () => {
    const { conn, session, ev } = await open();
    const asked = session.ask("hi");
    await conn.next("user.message");
    conn.send(ev.final(2, "晴"));
    await expect(asked).resolves.toBe("晴");

    const second = session.ask("again");
    await conn.next("user.message");
    conn.send(ev.make("agent.interrupted", 3, { content: "stopped", metadata: { reason: "user_cancel" } }));
    await expect(second).rejects.toBeInstanceOf(RunInterruptedError);
  });

  it("a sub-agent's final answer (metadata.origin) does not end the run", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("plan").collect();
    await conn.next("user.message");
    conn.send(ev.make("agent.final_answer", 2, { content: "task done", metadata: { origin: "solver" } }));
    conn.send(ev.final(3, "all done"));
    expect(seqs(await run)).toEqual([2, 3]);
  });

  it("rejects the run when the server refuses the message, and refuses a second run locally", async () => {
    const { conn, session, ev } = await open();
    conn.send(ev.thinking(2)); // a run another client started: SESSION_BUSY is not retried
    await new Promise<void>((resolve) => session.subscribe(() => resolve()));
    const run = session.send("hi");
    expect(() => session.send("again")).toThrow(ClientProtocolError);
    await conn.next("user.message");
    conn.send({
      event: "agent.error",
      session_id: "s1",
      content: "busy",
      metadata: { error_code: "SESSION_BUSY", request_event: "user.message" },
    });
    const error = await run.collect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientProtocolError);
    expect((error as ClientProtocolError).code).toBe("SESSION_BUSY");
    expect(session.busy).toBe(true); // the other client's run goes on
    expect(() => session.send("now mine")).not.toThrow(); // this client's own run is over
  });

  it("an error without a session id goes to the only session waiting for that kind of request", async () => {
    const { conn, session } = await open();
    const run = session.send("hi");
    await conn.next("user.message");
    conn.send({
      event: "system.error",
      content: "content too long",
      metadata: { error_code: "INVALID_FIELD", request_event: "user.message" },
    });
    await expect(run.collect()).rejects.toMatchObject({ code: "INVALID_FIELD" });
  });

  it("asks again when SESSION_BUSY answers a message sent right after the previous run ended", async () => {
    const { conn, session, ev } = await open();
    const first = session.ask("one");
    await conn.next("user.message");
    conn.send(ev.final(2));
    await first;
    const second = session.ask("two");
    await conn.next("user.message");
    conn.send({
      event: "agent.error",
      session_id: "s1",
      content: "busy",
      metadata: { error_code: "SESSION_BUSY", request_event: "user.message" },
    });
    expect(await conn.next("user.message")).toMatchObject({ content: "two" }); // the server had not wound up yet
    conn.send(ev.final(3, "second"));
    await expect(second).resolves.toBe("second");
  });

  it("ignores frames that are not JSON objects with an event name", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("hi").collect();
    await conn.next("user.message");
    for (const junk of ["not json", "[1,2]", '{"no":"event"}', "null", '"\\ud800"']) conn.sendRaw(junk);
    conn.send(ev.final(2));
    expect(seqs(await run)).toEqual([2]);
  });
});

describe("requests", () => {
  it("confirm() sends user.response with the step id; exportState() returns and stores the signed state", async () => {
    const store = new MemoryStateStore();
    const { conn, session, ev } = await open({ stateStore: store });
    await session.confirm("confirm_1", false, { message: "no" });
    expect(await conn.next("user.response")).toMatchObject({
      session_id: "s1",
      step_id: "confirm_1",
      content: { confirmed: false, message: "no" },
    });
    const exported = session.exportState();
    await conn.next("user.request_state");
    conn.send(ev.make("agent.state_exported", 2, { content: "", metadata: { signed_state: { sig: "x" } } }));
    expect(await exported).toEqual({ sig: "x" });
    expect(store.load("s1")).toEqual({ sig: "x" });
  });

  it("answers confirmations with the confirm callback", async () => {
    const asked: string[] = [];
    const { conn, session, ev } = await open({
      confirm: (request) => {
        asked.push(request.toolName);
        return true;
      },
    });
    const run = session.send("subscribe").collect();
    await conn.next("user.message");
    conn.send(ev.make("agent.user_confirm", 2, { step_id: "confirm_9", content: "?", metadata: { tool_name: "alert" } }));
    expect(await conn.next("user.response")).toMatchObject({ step_id: "confirm_9", content: { confirmed: true } });
    conn.send(ev.final(3));
    await run;
    expect(asked).toEqual(["alert"]);
  });

  it("cancel() resolves true at agent.interrupted and false when the server has no run", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("long").collect();
    await conn.next("user.message");
    conn.send(ev.thinking(2));
    await conn.next("user.ack");
    const cancelled = session.cancel();
    await conn.next("user.cancel");
    conn.send(ev.make("agent.interrupted", 3, { content: "", metadata: { reason: "user_cancel" } }));
    expect(await cancelled).toBe(true);
    expect((await run).at(-1)?.event).toBe("agent.interrupted");
    expect(await session.cancel()).toBe(false); // idle: nothing sent
  });

  it("a Plan & Solve control resolves with the notice's ok", async () => {
    const { conn, session } = await open();
    const done = session.cancelTask(2);
    expect(await conn.next("user.cancel_task")).toMatchObject({ content: { task_id: 2 } });
    conn.send({ event: "system.notice", session_id: "s1", content: "", metadata: { action: "cancel_task", ok: true } });
    expect(await done).toBe(true);
  });

  it("an error about a create request rejects createSession()", async () => {
    makeClient();
    await client.connect();
    const conn = await server.connection(0);
    const creating = client.createSession();
    await conn.next("user.create_session");
    conn.send({
      event: "system.error",
      content: "too many",
      metadata: { error_code: "SESSION_LIMIT", request_event: "user.create_session" },
    });
    await expect(creating).rejects.toMatchObject({ code: "SESSION_LIMIT" });
  });
});

describe("acknowledgements", () => {
  it("acknowledges at once, then at most once per interval, ending at the last event", async () => {
    const { conn, session, ev } = await open({ ackInterval: 50 });
    const run = session.send("hi").collect();
    await conn.next("user.message");
    for (let seq = 2; seq < 60; seq += 1) conn.send(ev.partial(seq));
    conn.send(ev.final(60));
    await run;
    let ack: Frame;
    do ack = await conn.next("user.ack");
    while (ack["last_event_id"] !== "s1:60");
    const acks = conn.received.filter((f) => f.event === "user.ack");
    expect(acks.length).toBeLessThan(10);
    expect(acks.map((a) => a["session_id"])).toEqual(acks.map(() => "s1"));
  });
});

describe("reconnect", () => {
  async function dropAndReattach(conn: FakeConnection, index: number): Promise<{ next: FakeConnection; reconnect: Frame }> {
    conn.drop();
    const next = await server.connection(index);
    return { next, reconnect: await next.next("user.reconnect") };
  }

  it("resumes after a drop and delivers every event exactly once despite a replay that overlaps", async () => {
    const statuses: string[] = [];
    const { conn, session, ev } = await open();
    client.on("status", (s: StatusChange) => statuses.push(s.status));
    const seen: ServerEvent[] = [];
    session.subscribe((e) => seen.push(e));
    const run = session.send("hi").collect();
    await conn.next("user.message");
    conn.send(ev.partial(2));
    conn.send(ev.partial(3));
    await conn.next("user.ack");
    const { next, reconnect } = await dropAndReattach(conn, 1);
    expect(reconnect).toMatchObject({ session_id: "s1", resume_token: "tok-1", last_event_id: "s1:3" });
    next.send({
      event: "system.notice",
      session_id: "s1",
      content: "",
      metadata: { action: "reconnect", ok: true, resume_token: "tok-2", last_seq: 5, busy: true },
    });
    for (const frame of [ev.partial(2), ev.partial(3), ev.partial(4), ev.partial(5)]) next.send(frame);
    next.send(ev.final(6));
    expect(seqs(await run)).toEqual([2, 3, 4, 5, 6]);
    expect(session.duplicatesDropped).toBe(2);
    expect(session.resumeToken).toBe("tok-2");
    expect(seqs(seen).filter((s) => s !== undefined)).toEqual([2, 3, 4, 5, 6]);
    expect(statuses).toEqual(["reconnecting", "open"]);
  });

  it("sends a message again when the dropped connection swallowed it", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("hi").collect();
    await conn.next("user.message");
    const { next } = await dropAndReattach(conn, 1);
    next.send({
      event: "system.notice",
      session_id: "s1",
      content: "",
      metadata: { action: "reconnect", ok: true, resume_token: "tok-2", last_seq: 1, busy: false },
    });
    expect(await next.next("user.message")).toMatchObject({ content: "hi" });
    next.send(ev.final(2));
    expect(seqs(await run)).toEqual([2]);
  });

  it("queues what is sent while reconnecting and sends it once the session is back", async () => {
    const { conn, session, ev } = await open();
    server.greet = false; // hold the next connection until the test has sent
    conn.drop();
    const next = await server.connection(1);
    const run = session.send("while away").collect();
    server.greet = true;
    next.send({ event: "system.connected", content: "", metadata: { connection_id: "c2" } });
    await next.next("user.reconnect");
    expect(next.received.map((f) => f.event)).toEqual(["user.reconnect"]);
    next.send({
      event: "system.notice",
      session_id: "s1",
      content: "",
      metadata: { action: "reconnect", ok: true, resume_token: "tok-2", last_seq: 1, busy: false },
    });
    expect(await next.next("user.message")).toMatchObject({ session_id: "s1", content: "while away" });
    next.send(ev.final(2));
    expect(seqs(await run)).toEqual([2]);
  });

  it("sends a confirmation's answer again when the server asks again after a resume", async () => {
    const { conn, session, ev } = await open();
    const run = session.send("subscribe").collect();
    await conn.next("user.message");
    conn.send(ev.make("agent.user_confirm", 2, { step_id: "confirm_1", content: "?", metadata: {} }));
    await session.confirm("confirm_1", true);
    await conn.next("user.response");
    const { next } = await dropAndReattach(conn, 1);
    next.send({
      event: "system.notice",
      session_id: "s1",
      content: "",
      metadata: { action: "reconnect", ok: true, resume_token: "tok-2", last_seq: 3, busy: true },
    });
    next.send(ev.make("agent.user_confirm", 3, { step_id: "confirm_1", content: "?", metadata: { resent: true } }));
    expect(await next.next("user.response")).toMatchObject({ step_id: "confirm_1", content: { confirmed: true } });
    next.send(ev.final(4));
    expect(seqs(await run)).toEqual([2, 3, 4]);
  });

  it("restores from the stored signed state when the server no longer knows the session", async () => {
    const store = new MemoryStateStore();
    store.save("s1", { signature: "abc" });
    const { conn, session } = await open({ stateStore: store });
    const restored: Array<{ previousId: string; sessionId: string }> = [];
    session.on("restored", (r) => restored.push(r));
    const { next } = await dropAndReattach(conn, 1);
    next.send({
      event: "agent.error",
      session_id: "s1",
      content: "unknown session",
      metadata: { error_code: "SESSION_NOT_FOUND", request_event: "user.reconnect" },
    });
    expect(await next.next("user.reconnect_with_state")).toMatchObject({ signed_state: { signature: "abc" } });
    next.send(sessionEvents("s2").make("agent.state_restored", 1, { content: "", metadata: { resume_token: "tok-9" } }));
    await new Promise<void>((resolve) => client.on("status", (s) => s.status === "open" && resolve()));
    expect(session.sessionId).toBe("s2");
    expect(session.resumeToken).toBe("tok-9");
    expect(restored).toEqual([{ previousId: "s1", sessionId: "s2" }]);
    const run = session.send("after").collect();
    expect(await next.next("user.message")).toMatchObject({ session_id: "s2" });
    next.send(sessionEvents("s2").final(2));
    expect(seqs(await run)).toEqual([2]);
  });

  it("treats a connection that sends nothing, not even heartbeats, as dead and reconnects", async () => {
    const options: AgentClientOptions = {};
    const { conn } = await open(options);
    options.heartbeatTimeout = 100; // from the next frame on
    conn.send({ event: "system.heartbeat", content: "" });
    const next = await server.connection(1); // the silent first connection was dropped
    expect(await next.next("user.reconnect")).toMatchObject({ session_id: "s1", resume_token: "tok-1" });
    expect(await conn.closed).toBe(1006);
  });

  it("retryNow() skips the backoff pause", async () => {
    const { conn } = await open({ initialBackoff: 60_000 });
    const waiting = new Promise<void>((resolve) => client.on("status", (s) => s.status === "reconnecting" && resolve()));
    conn.drop();
    await waiting;
    client.retryNow();
    const next = await server.connection(1);
    expect(await next.next("user.reconnect")).toMatchObject({ session_id: "s1" });
  });

  it("backs off with jitter, then gives up and fails what waits", async () => {
    const changes: StatusChange[] = [];
    const { session } = await open({ initialBackoff: 40, maxBackoff: 100, maxReconnectAttempts: 3 });
    client.on("status", (s) => changes.push(s));
    const run = session.send("hi").collect();
    await server.close(); // every reconnect attempt fails
    await expect(run).rejects.toBeInstanceOf(ConnectionLostError);
    const waits = changes.filter((c) => c.status === "reconnecting").map((c) => c.retryIn);
    expect(waits).toEqual([30, 60, 75]); // 40, 80, 100 (capped) times 0.5 + 0.5 × random()
    expect(changes.at(-1)?.status).toBe("closed");
    expect(changes.at(-1)?.error).toBeInstanceOf(ConnectionLostError);
    server = await FakeServer.start(); // for afterEach
  });
});

describe("resumeSession", () => {
  it("re-attaches with the token and position; the first subscriber gets the replay, then live events", async () => {
    makeClient();
    await client.connect();
    const conn = await server.connection(0);
    const resuming = client.resumeSession("s9", "tok-9", { lastEventId: "s9:2" });
    expect(await conn.next("user.reconnect")).toMatchObject({
      session_id: "s9",
      resume_token: "tok-9",
      last_event_id: "s9:2",
    });
    const ev = sessionEvents("s9");
    conn.send({
      event: "system.notice",
      session_id: "s9",
      content: "",
      metadata: { action: "reconnect", ok: true, resume_token: "tok-10", last_seq: 4, busy: false },
    });
    conn.send(ev.partial(3));
    conn.send(ev.final(4));
    const session = await resuming;
    const seen: Array<number | string> = [];
    const live = new Promise<void>((resolve) =>
      session.subscribe((e) => {
        seen.push("seq" in e && e.seq !== undefined ? e.seq : e.event);
        if (seen.length === 4) resolve();
      }),
    );
    conn.send(ev.make("agent.session_end", 5, { content: "", metadata: { reason: "closed" } }));
    await live;
    expect(seen).toEqual(["system.notice", 3, 4, 5]);
    expect(session.resumeToken).toBe("tok-10");
    expect(session.closedReason).toBe("closed");
  });
});

describe("connect", () => {
  it("calls made while connecting all resolve once the connection is open", async () => {
    makeClient();
    const calls = [client.connect(), client.connect()];
    await Promise.all(calls);
    expect(client.connected).toBe(true);
    expect(server.connections.length).toBe(1);
  });

  it("rejects with ClientConnectionError when nothing listens", async () => {
    const url = server.url;
    await server.close();
    client = new AgentClient(url, { WebSocket: Socket });
    await expect(client.connect()).rejects.toMatchObject({ name: "ClientConnectionError" });
    expect(client.status).toBe("closed");
    server = await FakeServer.start();
  });
});

describe("authentication", () => {
  it("sends the token as the first frame, then works as usual", async () => {
    makeClient({ token: async () => "secret" });
    const connecting = client.connect();
    const conn = await server.connection(0);
    expect(await conn.next()).toEqual({ event: "user.authenticate", content: { token: "secret" } });
    conn.send({ event: "system.notice", content: "", metadata: { action: "authenticate", ok: true } });
    await connecting;
    expect(client.status).toBe("open");
  });

  it("authenticate() presents a fresh token on the open connection", async () => {
    let issued = 0;
    makeClient({ token: () => `token-${(issued += 1)}` });
    const connecting = client.connect();
    const conn = await server.connection(0);
    await conn.next("user.authenticate");
    conn.send({ event: "system.notice", content: "", metadata: { action: "authenticate", ok: true } });
    await connecting;
    const refreshed = client.authenticate();
    expect(await conn.next("user.authenticate")).toEqual({ event: "user.authenticate", content: { token: "token-2" } });
    conn.send({ event: "system.notice", content: "", metadata: { action: "authenticate", ok: true } });
    await refreshed;
    expect(client.connected).toBe(true);
  });

  it("puts the token in the Authorization header in header mode", async () => {
    makeClient({ token: "secret", authMode: "header" });
    await client.connect();
    const conn = await server.connection(0);
    expect(conn.request.headers.authorization).toBe("Bearer secret");
  });

  it("rejects connect() with AuthenticationError when the server closes with 4401", async () => {
    makeClient({ token: "wrong" });
    const connecting = client.connect();
    const conn = await server.connection(0);
    await conn.next("user.authenticate");
    conn.ws.close(4401, "unauthenticated");
    await expect(connecting).rejects.toBeInstanceOf(AuthenticationError);
    expect(client.status).toBe("closed");
  });
});

describe("subscribers", () => {
  it("see every event of a session, also of runs this client did not start", async () => {
    const { conn, session, ev } = await open();
    const fromClient: string[] = [];
    client.on("event", ({ event }) => fromClient.push(event.event));
    const fromSession: string[] = [];
    const noticed = new Promise<void>((resolve) => {
      session.subscribe((e) => {
        fromSession.push(e.event);
        if (e.event === "system.notice") resolve();
      });
    });
    conn.send(ev.thinking(2)); // a run another tab started
    conn.send(ev.final(3));
    conn.send({ event: "system.notice", session_id: "s1", content: "", metadata: { action: "replan", ok: true } });
    await noticed;
    expect(fromSession).toEqual(["agent.thinking", "agent.final_answer", "system.notice"]);
    expect(fromClient).toEqual(fromSession);
  });
});

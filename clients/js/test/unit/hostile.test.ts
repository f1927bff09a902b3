/** A server (or a proxy) sending garbage: the client ignores what it cannot use and keeps working. */
import { afterEach, beforeEach, expect, it } from "vitest";
import WebSocket from "ws";
import { AgentClient, type WebSocketConstructor } from "../../src/index.js";
import { FakeServer, sessionEvents } from "../fake-server.js";

let server: FakeServer;
let client: AgentClient;

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  await client.close();
  await server.close();
});

/** A small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["agent.final_answer", "agent.error", "system.error", "system.notice", "agent.state_restored", "x.y", ""];
const VALUES: unknown[] = [null, true, -1, 1.5, 2 ** 60, "7", "s1:9", [], {}, { action: "reconnect" }, "\u0000"];

function junk(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const kind = Math.floor(random() * 4);
  if (kind === 0) return pick(["", "{", "[]", "null", "42", '"text"', "{}{}", "\ud800"]);
  const frame: Record<string, unknown> = { event: pick(NAMES) };
  for (const field of ["session_id", "seq", "event_id", "content", "metadata", "step_id"]) {
    if (random() < 0.6) frame[field] = field === "session_id" && random() < 0.5 ? "s1" : pick(VALUES);
  }
  return JSON.stringify(frame);
}

it("survives 2000 malformed or ill-typed frames and still completes a run", async () => {
  client = new AgentClient(server.url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  await client.connect();
  const conn = await server.connection(0);
  const creating = client.createSession();
  await conn.next("user.create_session");
  const ev = sessionEvents("s1");
  conn.send(ev.created());
  const session = await creating;
  const random = generator(20261130);
  for (let i = 0; i < 2000; i += 1) conn.sendRaw(junk(random));
  const run = session.send("still there?").collect();
  await conn.next("user.message");
  conn.send(ev.final(2 ** 31, "yes"));
  const events = await run;
  expect(events.at(-1)).toMatchObject({ event: "agent.final_answer", content: "yes" });
  expect(client.connected).toBe(true);
  expect(errors.every((error) => error instanceof Error)).toBe(true);
});

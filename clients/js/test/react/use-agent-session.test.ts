// @vitest-environment jsdom
import { createElement } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import type { WebSocketConstructor } from "../../src/index.js";
import {
  type AgentSessionHandle,
  initialState,
  loadSaved,
  reduce,
  SessionStore,
  turnText,
  useAgentSession,
  type UseAgentSessionOptions,
} from "../../src/react/index.js";
import { type AgentTurn, FakeAgentServer } from "./fake-agent-server.js";
import { Frames } from "./frames.js";

const WAIT = { timeout: 5000, interval: 10 };
// Updates come from a socket, outside act(): the tests wait for what the user would see instead.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
let server: FakeAgentServer;
const mounted: Root[] = [];

beforeEach(async () => {
  localStorage.clear();
  server = new FakeAgentServer();
  await server.start();
});

afterEach(async () => {
  for (const root of mounted.splice(0)) root.unmount();
  await server.stop();
});

interface Mounted {
  first(): AgentSessionHandle;
  latest(): AgentSessionHandle;
  renders(): number;
  unmount(): void;
}

function mount(options: Partial<UseAgentSessionOptions> = {}): Mounted {
  const seen: AgentSessionHandle[] = [];
  const url = server.url;
  function Probe(): null {
    seen.push(
      useAgentSession({
        url,
        clientOptions: { WebSocket: WebSocket as unknown as WebSocketConstructor, initialBackoff: 10 },
        ...options,
      }),
    );
    return null;
  }
  const root = createRoot(document.createElement("div"));
  mounted.push(root);
  root.render(createElement(Probe));
  return {
    first: () => seen[0]!,
    latest: () => seen[seen.length - 1]!,
    renders: () => seen.length,
    unmount: () => {
      mounted.splice(mounted.indexOf(root), 1);
      root.unmount();
    },
  };
}

async function connected(view: Mounted): Promise<void> {
  await vi.waitFor(() => {
    expect(view.latest().connection).toBe("open");
    expect(view.latest().sessionId).not.toBeNull();
  }, WAIT);
}

const lastText = (view: Mounted): string => {
  const last = view.latest().messages[view.latest().messages.length - 1];
  return last?.role === "assistant" ? turnText(last) : "";
};

describe("useAgentSession against a protocol server", () => {
  it("sends a message and shows the streamed answer; a fast stream renders per frame, not per delta", async () => {
    const deltas = Array.from({ length: 300 }, (_, i) => `w${i} `);
    server.onMessage = (turn) => {
      for (const delta of deltas) turn.emit("agent.partial_answer", { content: delta, metadata: { step: 1 } });
      turn.emit("agent.final_answer", { content: deltas.join(""), metadata: { steps: 1 } });
    };
    const view = mount();
    await connected(view);
    const before = view.renders();
    await view.latest().send("hello");
    await vi.waitFor(() => expect(view.latest().busy).toBe(false), WAIT);
    expect(view.latest().messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(lastText(view)).toBe(deltas.join(""));
    expect(server.sent("user.message")[0]).toMatchObject({ content: "hello" });
    expect(view.renders() - before).toBeLessThan(deltas.length / 4);
  });

  it("a confirmation is shown, approved with respond(), and the tool ends done", async () => {
    server.onMessage = async (turn) => {
      const args = { city: "上海" };
      turn.emit("agent.tool_call", { step_id: "c1", metadata: { tool: "subscribe", args, call_id: "c1", needs_confirmation: true } });
      const expires = new Date(Date.now() + 60_000).toISOString();
      turn.emit("agent.user_confirm", {
        step_id: "confirm_1_subscribe",
        content: "确认执行工具: subscribe",
        metadata: { tool_name: "subscribe", tool_args: args, call_id: "c1", scope: "tool", expires_at: expires },
      });
      const ok = await turn.answer("confirm_1_subscribe");
      turn.emit("agent.tool_result", { step_id: "c1", content: "done", metadata: { tool: "subscribe", status: ok ? "success" : "refused", call_id: "c1", error: null, data: null } });
      turn.emit("agent.final_answer", { content: ok ? "subscribed" : "not subscribed" });
    };
    const view = mount();
    await connected(view);
    void view.latest().send("订阅上海的天气预警");
    await vi.waitFor(() => expect(view.latest().confirmation?.toolName).toBe("subscribe"), WAIT);
    expect(view.latest().tools.c1!.status).toBe("awaiting_approval");
    await view.latest().respond(true);
    await vi.waitFor(() => expect(view.latest().tools.c1!.status).not.toBe("awaiting_approval"), WAIT);
    await vi.waitFor(() => expect(lastText(view)).toBe("subscribed"), WAIT);
    expect(view.latest().confirmation).toBeNull();
    expect(view.latest().tools.c1!.status).toBe("done");
    expect(server.sent("user.response")[0]).toMatchObject({ step_id: "confirm_1_subscribe", content: { confirmed: true } });
  });

  it("a reload shows the conversation at once, resumes the session and replays what it missed", async () => {
    server.onMessage = (turn) => turn.emit("agent.final_answer", { content: `echo ${turn.text}` });
    const first = mount({ saveDelay: 0 });
    await connected(first);
    await first.latest().send("one");
    await vi.waitFor(() => expect(lastText(first)).toBe("echo one"), WAIT);
    const sessionId = first.latest().sessionId!;
    first.unmount();
    const session = server.sessions.get(sessionId)!;
    server.emit(session, "agent.partial_answer", { content: "missed while away" }); // a run went on

    const second = mount();
    await vi.waitFor(() => expect(second.renders()).toBeGreaterThan(0), WAIT);
    expect(second.first().connection).toBe("idle"); // the very first render, before any connection:
    expect(second.first().messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    await vi.waitFor(() => expect(server.sent("user.reconnect")).toHaveLength(1), WAIT);
    expect(second.latest().sessionId).toBe(sessionId);
    const reconnect = server.sent("user.reconnect").pop()!;
    expect(reconnect).toMatchObject({ session_id: sessionId, resume_token: session.token.replace(/\+$/, "") });
    await vi.waitFor(() => expect(lastText(second)).toBe("missed while away"), WAIT);
    expect(loadSaved(localStorage, `myagent.react:${server.url}`)?.resumeToken).toBe(session.token); // the rotated token
  });

  it("unmounting saves what changed since the last save", async () => {
    server.onMessage = (turn) => turn.emit("agent.partial_answer", { content: "the latest answer" });
    const view = mount({ saveDelay: 60_000 }); // no timed save during the test
    await connected(view);
    void view.latest().send("q");
    await vi.waitFor(() => expect(lastText(view)).toBe("the latest answer"), WAIT);
    view.unmount();
    const saved = loadSaved(localStorage, `myagent.react:${server.url}`);
    const last = saved?.view?.messages.at(-1);
    expect(last?.role === "assistant" && turnText(last)).toBe("the latest answer");
  });

  it("a dropped connection shows reconnecting, then resumes; the answer has every piece once", async () => {
    let turn: AgentTurn | null = null;
    server.onMessage = (t) => {
      turn = t;
      t.emit("agent.partial_answer", { content: "before the drop, " });
    };
    const view = mount();
    await connected(view);
    void view.latest().send("hi");
    await vi.waitFor(() => expect(lastText(view)).toBe("before the drop, "), WAIT);
    server.dropConnections();
    await vi.waitFor(() => expect(view.latest().connection).toBe("reconnecting"), WAIT);
    turn!.emit("agent.partial_answer", { content: "while away, " }); // kept for the replay
    await vi.waitFor(() => expect(view.latest().connection).toBe("open"), WAIT);
    await vi.waitFor(() => expect(lastText(view)).toBe("before the drop, while away, "), WAIT); // replayed once
    turn!.emit("agent.final_answer", { content: "before the drop, while away, after." });
    await vi.waitFor(() => expect(view.latest().busy).toBe(false), WAIT);
    expect(lastText(view)).toBe("before the drop, while away, after.");
    expect(server.sent("user.reconnect")).toHaveLength(1);
  });

  it("reconnect() starts again after the client gave up", async () => {
    const view = mount({
      clientOptions: { WebSocket: WebSocket as unknown as WebSocketConstructor, initialBackoff: 10, maxReconnectAttempts: 1 },
    });
    await connected(view);
    const sessionId = view.latest().sessionId;
    const port = Number(new URL(server.url).port);
    await server.stop();
    await vi.waitFor(() => expect(view.latest().connection).toBe("failed"), WAIT);
    await server.start(port);
    view.latest().reconnect();
    await vi.waitFor(() => expect(server.sent("user.reconnect")).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(view.latest().connection).toBe("open"), WAIT);
    expect(server.sent("user.reconnect")[0]).toMatchObject({ session_id: sessionId });
  });

  it("a session the server lost is restored from the signed state kept after the last answer", async () => {
    server.onMessage = (turn) => turn.emit("agent.final_answer", { content: "first answer" });
    const first = mount({ saveDelay: 0 });
    await connected(first);
    await first.latest().send("remember me");
    const key = `myagent.react:${server.url}`;
    await vi.waitFor(() => expect(loadSaved(localStorage, key)?.signedState).not.toBeNull(), WAIT);
    const oldId = first.latest().sessionId!;
    first.unmount();
    server.forgotten.add(oldId);

    const second = mount();
    await vi.waitFor(() => expect(second.latest().restored).not.toBeNull(), WAIT);
    expect(second.latest().sessionId).not.toBe(oldId);
    expect(server.sent("user.reconnect_with_state")[0]).toMatchObject({ signed_state: { state: { session_id: oldId } } });
    expect(second.latest().messages.map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("stop() cancels the run", async () => {
    server.onMessage = (turn) => turn.emit("agent.thinking", { metadata: { step: 1 } }); // and never ends by itself
    const view = mount();
    await connected(view);
    void view.latest().send("long job");
    await vi.waitFor(() => expect(server.sent("user.message")).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(view.latest().messages).toHaveLength(2), WAIT);
    expect(await view.latest().stop()).toBe(true);
    await vi.waitFor(() => expect(view.latest().busy).toBe(false), WAIT);
    const turn = view.latest().messages[1]!;
    expect(turn.role === "assistant" && turn.status).toBe("stopped");
  });

  it("cancelTask() is pending until the server acknowledges it", async () => {
    server.onMessage = (turn) => {
      turn.emit("plan.completed", { content: { tasks: [{ id: 1, title: "A" }, { id: 2, title: "B" }] } });
      turn.emit("solver.start", { content: { task: { id: 2 } }, metadata: { task_id: 2 } });
    };
    const view = mount();
    await connected(view);
    void view.latest().send("report");
    await vi.waitFor(() => expect(view.latest().plan?.tasks[1]?.status).toBe("running"), WAIT);
    expect(await view.latest().cancelTask(2)).toBe(true);
    expect(server.sent("user.cancel_task")[0]).toMatchObject({ content: { task_id: 2 } });
    await vi.waitFor(() => expect(view.latest().plan?.tasks[1]?.control).toBeNull(), WAIT);
  });

  it("reset() forgets the conversation and starts a new session", async () => {
    server.onMessage = (turn) => turn.emit("agent.final_answer", { content: "x" });
    const view = mount();
    await connected(view);
    await view.latest().send("q");
    const oldId = view.latest().sessionId;
    await view.latest().reset();
    await vi.waitFor(() => expect(view.latest().sessionId).not.toBe(oldId), WAIT);
    expect(view.latest().messages).toEqual([]);
  });

  it("damaged storage counts as nothing saved", async () => {
    localStorage.setItem(`myagent.react:${server.url}`, '{"format":1,"sessionId":5}');
    const view = mount();
    await connected(view);
    expect(server.sent("user.create_session")).toHaveLength(1);
    expect(server.sent("user.reconnect")).toHaveLength(0);
  });
});

describe("render throttling", () => {
  it("many events before a frame make one publication, with every delta in it", () => {
    const flushes: Array<() => void> = [];
    const store = new SessionStore(initialState(), (flush) => {
      flushes.push(flush);
      return () => undefined;
    });
    const f = new Frames();
    store.update((s) => reduce(s, f.created()));
    for (let i = 0; i < 500; i++) store.update((s) => reduce(s, f.delta("x")));
    expect(flushes).toHaveLength(1);
    expect(store.getSnapshot().messages).toEqual([]); // React has not heard of any of it yet
    expect(store.state.messages).toHaveLength(1); // but the state is up to date
    flushes[0]!();
    expect(store.publishCount).toBe(1);
    const turn = store.getSnapshot().messages[0]!;
    expect(turn.role === "assistant" && turnText(turn)).toBe("x".repeat(500));
  });

  it("the user's own actions publish at once", () => {
    const store = new SessionStore(initialState(), () => () => undefined);
    store.update((s) => ({ ...s, busy: true }), { urgent: true });
    expect(store.getSnapshot().busy).toBe(true);
    expect(store.publishCount).toBe(1);
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ServerEvent } from "../../src/generated/events.js";
import {
  addUserMessage,
  type AgentSessionState,
  type AssistantMessage,
  expireConfirmations,
  initialState,
  markResponded,
  markTaskControl,
  nextExpiry,
  reduce,
  revived,
  setConnection,
  turnText,
  turnTools,
} from "../../src/react/index.js";
import { Frames, SID } from "./frames.js";

const run = (state: AgentSessionState, events: ServerEvent[]): AgentSessionState => events.reduce(reduce, state);
const lastTurn = (state: AgentSessionState): AssistantMessage => {
  const last = state.messages[state.messages.length - 1];
  if (last?.role !== "assistant") throw new Error("no assistant turn");
  return last;
};
const EXPIRES = "2026-01-01T00:05:00.000Z";

describe("a real run of examples/weather_agent.py", () => {
  const frames = JSON.parse(readFileSync(new URL("./fixtures/weather-run.json", import.meta.url), "utf8")) as ServerEvent[];
  const firstRunEnd = frames.findIndex((f) => f.event === "agent.final_answer") + 1;

  it("shows the question, both tool calls with their data, then the streamed answer", () => {
    let state = run(initialState(), frames.slice(0, 2)); // connected, session created
    state = addUserMessage(state, "北京和上海的天气怎么样？", 1);
    state = run(state, frames.slice(2, firstRunEnd));
    const turn = lastTurn(state);
    expect(state.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(turn.status).toBe("done");
    expect(turn.parts.map((p) => p.type)).toEqual(["tool", "tool", "text"]);
    const calls = turnTools(state, turn);
    expect(calls.map((c) => [c.name, c.args, c.status])).toEqual([
      ["get_weather", { city: "北京" }, "done"],
      ["get_weather", { city: "上海" }, "done"],
    ]);
    expect(calls[0]!.data).toMatchObject({ city: "北京", high: 24 });
    expect(turnText(turn)).toBe(String((frames[firstRunEnd - 1] as { content: unknown }).content));
    expect(state.busy).toBe(false);
    expect(state.agentName).toBe("weather_agent");
  });

  it("replaying every event again changes nothing (a reload resumes from the saved state)", () => {
    let state = addUserMessage(run(initialState(), frames.slice(0, 2)), "q", 1);
    state = run(state, frames);
    expect(run(state, frames)).toBe(state);
  });

  it("survives JSON (it is kept in localStorage)", () => {
    const state = run(addUserMessage(initialState(), "q", 1), frames);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe("a run taken over by another server process (agent.run_resumed)", () => {
  it("drops the text the interrupted step streamed; the step's new text replaces it", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = run(state, [f.delta("The answer is fo", { step: 1 })]);
    state = reduce(state, f.next("agent.run_resumed", { content: "resumed", metadata: { step: 1, interrupted_calls: [] } }));
    expect(lastTurn(state).parts).toEqual([]);
    expect(state.busy).toBe(true);
    state = run(state, [f.delta("The answer is 42.", { step: 1 }), f.final("The answer is 42.")]);
    expect(turnText(lastTurn(state))).toBe("The answer is 42.");
  });

  it("keeps settled text and tool calls: only the step under way is answered again", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = run(state, [f.delta("Let me look. "), f.toolCall("c1", "get_weather", { city: "北京" })]);
    state = reduce(state, f.next("agent.run_resumed", { content: "resumed", metadata: { step: 2, interrupted_calls: [] } }));
    expect(lastTurn(state).parts.map((p) => p.type)).toEqual(["text", "tool"]);
  });
});

describe("streaming text", () => {
  it("grows with each delta, then the final answer settles it", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = run(state, [f.delta("Hel"), f.delta("lo")]);
    expect(lastTurn(state).parts).toEqual([{ type: "text", text: "Hello", streaming: true }]);
    expect(state.busy).toBe(true);
    state = reduce(state, f.final("Hello!"));
    expect(lastTurn(state).parts).toEqual([{ type: "text", text: "Hello!", streaming: false }]);
    expect(lastTurn(state).status).toBe("done");
    expect(state.busy).toBe(false);
  });

  it("text after a tool call starts a new part; the one before stops streaming", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = run(state, [f.delta("Let me look. "), f.toolCall("c1", "get_weather", { city: "北京" }), f.delta("Sunny")]);
    expect(lastTurn(state).parts).toEqual([
      { type: "text", text: "Let me look. ", streaming: false },
      { type: "tool", key: "c1" },
      { type: "text", text: "Sunny", streaming: true },
    ]);
  });

  it("a run whose message this page never sent still gets a turn (another tab, a replay)", () => {
    const f = new Frames();
    const state = run(initialState(), [f.created(), f.delta("x"), f.final("x")]);
    expect(state.messages).toHaveLength(1);
    expect(lastTurn(state).status).toBe("done");
  });

  it("cancel: the turn stops and open calls are cancelled", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = run(state, [f.toolCall("c1", "slow", {}), f.next("agent.interrupted", { metadata: { reason: "user_cancel" } })]);
    expect(lastTurn(state).status).toBe("stopped");
    expect(state.tools.c1!.status).toBe("cancelled");
    expect(state.busy).toBe(false);
  });

  it("a sequenced agent.error fails the run with its code", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = reduce(state, f.next("agent.error", { content: "model down", metadata: { error_code: "MODEL_ERROR" } }));
    expect(lastTurn(state).status).toBe("failed");
    expect(lastTurn(state).error).toEqual({ code: "MODEL_ERROR", message: "model down" });
  });
});

describe("tool calls needing approval", () => {
  const awaiting = (): [AgentSessionState, Frames] => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "订阅上海的天气预警", 1);
    state = run(state, [
      f.toolCall("c1", "subscribe_weather_alert", { city: "上海" }, { needs_confirmation: true }),
      f.confirm("c1", "subscribe_weather_alert", { city: "上海" }, EXPIRES),
    ]);
    return [state, f];
  };

  it("await approval with the expiry, and the dialog shows the request", () => {
    const [state] = awaiting();
    expect(state.tools.c1).toMatchObject({ status: "awaiting_approval", expiresAt: Date.parse(EXPIRES) });
    expect(state.confirmation).toMatchObject({
      stepId: "confirm_c1_subscribe_weather_alert",
      scope: "tool",
      toolName: "subscribe_weather_alert",
      args: { city: "上海" },
      toolKey: "c1",
      expiresAt: Date.parse(EXPIRES),
    });
    expect(nextExpiry(state)).toBe(Date.parse(EXPIRES));
    expect(lastTurn(state).parts).toEqual([{ type: "tool", key: "c1" }]); // one card, not two
  });

  it("approved → done", () => {
    let [state, f] = awaiting();
    state = markResponded(state, "confirm_c1_subscribe_weather_alert", true);
    expect(state.tools.c1!.status).toBe("approved");
    expect(state.confirmation).toBeNull();
    state = reduce(state, f.toolResult("c1", "subscribe_weather_alert", "success", { content: "已订阅" }));
    expect(state.tools.c1).toMatchObject({ status: "done", output: "已订阅", expiresAt: null });
  });

  it("approved → failed, with the error", () => {
    let [state, f] = awaiting();
    state = markResponded(state, "confirm_c1_subscribe_weather_alert", true);
    state = reduce(state, f.toolResult("c1", "subscribe_weather_alert", "failed", { error: "boom", failure: "error" }));
    expect(state.tools.c1).toMatchObject({ status: "failed", error: "boom", failure: "error" });
  });

  it("refused stays refused when the server confirms it", () => {
    let [state, f] = awaiting();
    state = markResponded(state, "confirm_c1_subscribe_weather_alert", false);
    expect(state.tools.c1!.status).toBe("refused");
    state = reduce(state, f.toolResult("c1", "subscribe_weather_alert", "refused", { error: "user refused" }));
    expect(state.tools.c1!.status).toBe("refused");
  });

  it("expired: the clock closes the dialog, the server's result agrees", () => {
    let [state, f] = awaiting();
    expect(expireConfirmations(state, Date.parse(EXPIRES) - 1)).toBe(state);
    state = expireConfirmations(state, Date.parse(EXPIRES));
    expect(state.tools.c1!.status).toBe("expired");
    expect(state.confirmation).toBeNull();
    state = reduce(state, f.toolResult("c1", "subscribe_weather_alert", "expired", { error: "no answer" }));
    expect(state.tools.c1!.status).toBe("expired");
  });

  it("a request answered elsewhere (the result came) closes the dialog", () => {
    let [state, f] = awaiting();
    state = reduce(state, f.toolResult("c1", "subscribe_weather_alert", "success"));
    expect(state.confirmation).toBeNull();
    expect(state.tools.c1!.status).toBe("done");
  });

  it("withdrawn by a cancel: dialog closed, call cancelled, turn stopped", () => {
    let [state, f] = awaiting();
    state = run(state, [
      f.next("agent.confirmation_withdrawn", { metadata: { step_id: "confirm_c1_subscribe_weather_alert" } }),
      f.next("agent.interrupted", { metadata: { reason: "user_cancel" } }),
    ]);
    expect(state.confirmation).toBeNull();
    expect(state.tools.c1!.status).toBe("cancelled");
    expect(lastTurn(state).status).toBe("stopped");
  });

  it("re-sent after a resume: the same dialog, marked resent", () => {
    let [state, f] = awaiting();
    state = reduce(state, f.confirm("c1", "subscribe_weather_alert", { city: "上海" }, EXPIRES, { resent: true }));
    expect(state.confirmation).toMatchObject({ stepId: "confirm_c1_subscribe_weather_alert", resent: true });
    expect(Object.keys(state.tools)).toEqual(["c1"]);
  });

  it("the guide's older frames without call_id still pair with the call", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "x", 1);
    state = reduce(state, f.toolCall("c9", "delete_file", { path: "/a" }));
    state = reduce(
      state,
      f.next("agent.user_confirm", {
        step_id: "confirm_abc_delete_file",
        content: "确认执行工具: delete_file",
        metadata: { tool_name: "delete_file", tool_args: { path: "/a" }, requires_confirmation: true },
      }),
    );
    expect(state.tools.c9).toMatchObject({ status: "awaiting_approval", confirmStepId: "confirm_abc_delete_file" });
    expect(state.confirmation?.expiresAt).toBeNull();
  });
});

describe("Plan & Solve", () => {
  const solver = (task: number, extra: Record<string, unknown> = {}) => ({
    origin: "solver",
    agent: `section_solver_${task}`,
    task_id: task,
    step: 1,
    ...extra,
  });

  it("tasks go pending → running → completed; a sub-agent's text stays with its task; charts keep their task", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "写一份销售报告：地区和趋势", 1);
    const tasks = [
      { id: 1, title: "地区表现", objective: "比较各地区" },
      { id: 2, title: "月度趋势", objective: "每月变化" },
    ];
    state = run(state, [
      f.next("plan.start", { content: { question: "写一份销售报告：地区和趋势" } }),
      f.next("plan.completed", { content: { tasks, plan_summary: "2 个章节" } }),
    ]);
    expect(state.plan).toMatchObject({ phase: "planned", summary: "2 个章节" });
    expect(state.plan!.tasks.map((t) => [t.id, t.title, t.status])).toEqual([
      [1, "地区表现", "pending"],
      [2, "月度趋势", "pending"],
    ]);
    const rows = [{ 地区: "华东", 销售额: 10940300 }];
    state = run(state, [
      f.next("solver.start", { content: { task: tasks[0] }, metadata: { task_id: 1 } }),
      f.next("agent.partial_answer", { content: "section text", metadata: solver(1) }),
      f.toolCall("v1", "data_visual", { chart_type: "bar", x_field: "地区", y_fields: ["销售额"] }, solver(1)),
      f.toolResult("v1", "data_visual", "success", { data: rows, ...solver(1) }),
      f.next("solver.completed", { content: { task: tasks[0], result: { output: { markdown: "x" }, summary: "第 1 节" } }, metadata: { task_id: 1 } }),
    ]);
    const task1 = state.plan!.tasks[0]!;
    expect(task1).toMatchObject({ status: "completed", text: "section text", summary: "第 1 节" });
    expect(state.plan!.phase).toBe("solving");
    expect(turnText(lastTurn(state))).toBe(""); // not the answer
    const [chart] = turnTools(state, lastTurn(state));
    expect(chart).toMatchObject({ name: "data_visual", status: "done", data: rows, taskId: 1, key: "solver:1:v1" });
  });

  it("per-task cancel and restart: pending until the server acknowledges, then the task's new status", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "report", 1);
    state = run(state, [
      f.next("plan.completed", { content: { tasks: [{ id: 1, title: "A" }, { id: 2, title: "B" }] } }),
      f.next("solver.start", { content: { task: { id: 1 } }, metadata: { task_id: 1 } }),
    ]);
    state = markTaskControl(state, 1, "cancel");
    expect(state.plan!.tasks[0]!.control).toBe("cancel");
    state = reduce(state, f.plain("system.notice", { session_id: SID, metadata: { action: "cancel_task", ok: true, task_id: 1 } }));
    expect(state.plan!.tasks[0]!.control).toBeNull();
    state = reduce(state, f.next("solver.cancelled", { content: { task: { id: 1 } }, metadata: { task_id: 1 } }));
    expect(state.plan!.tasks[0]!.status).toBe("cancelled");
    state = markTaskControl(state, "1", "restart"); // ids compare as text
    state = run(state, [
      f.next("solver.restarted", { content: { task: { id: 1 } }, metadata: { task_id: 1 } }),
      f.next("solver.start", { content: { task: { id: 1 } }, metadata: { task_id: 1 } }),
    ]);
    expect(state.plan!.tasks[0]).toMatchObject({ status: "running", control: null });
  });

  it("the report is the answer; an interrupted plan cancels the tasks still open", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "report", 1);
    state = run(state, [
      f.next("plan.completed", { content: { tasks: [{ id: 1 }, { id: 2 }] } }),
      f.next("solver.start", { metadata: { task_id: 1 } }),
      f.next("agent.interrupted", { metadata: { reason: "user_cancel" } }),
    ]);
    expect(state.plan!.tasks.map((t) => t.status)).toEqual(["cancelled", "cancelled"]);
    expect(state.plan!.phase).toBe("done");
    state = addUserMessage(state, "again", 2);
    state = run(state, [f.next("plan.start", { content: { question: "again" } }), f.next("plan.completed", { content: { tasks: [{ id: 1 }] } })]);
    state = run(state, [f.next("pipeline.completed", { content: {}, metadata: { statistics: [] } }), f.final("# 销售数据报告")]);
    expect(turnText(lastTurn(state))).toBe("# 销售数据报告");
    expect(state.plan!.phase).toBe("done");
  });

  it("a plan awaiting approval is a confirmation of scope plan", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "report", 1);
    state = run(state, [
      f.next("plan.completed", { content: { tasks: [{ id: 1, title: "A" }] } }),
      f.next("agent.user_confirm", {
        step_id: "confirm_plan_1",
        content: "确认计划",
        metadata: { scope: "plan", tasks: [{ id: 1, title: "A" }], plan_summary: "one" },
      }),
    ]);
    expect(state.plan!.phase).toBe("review");
    expect(state.confirmation).toMatchObject({ scope: "plan", tasks: [{ id: 1, title: "A" }], planSummary: "one" });
    state = markResponded(state, "confirm_plan_1", true);
    expect(state.plan!.phase).toBe("planned");
    expect(state.confirmation).toBeNull();
  });

  it("direct task mode ends with pipeline.tasks_completed", () => {
    const f = new Frames();
    let state = run(initialState(), [f.created()]);
    state = run(state, [f.next("solver.start", { metadata: { task_id: 7 } }), f.next("pipeline.tasks_completed", { content: { total: 1 } })]);
    expect(lastTurn(state).status).toBe("done");
    expect(state.busy).toBe(false);
  });
});

describe("errors, restores and the connection", () => {
  it("a rejected message is marked on the message and its empty turn goes away", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = reduce(
      state,
      f.plain("agent.error", {
        session_id: SID,
        content: "busy",
        metadata: { error_code: "SESSION_BUSY", request_event: "user.message" },
      }),
    );
    expect(state.messages).toEqual([expect.objectContaining({ role: "user", text: "hi", error: "busy" })]);
    expect(state.busy).toBe(false);
    expect(state.error).toEqual({ code: "SESSION_BUSY", message: "busy", requestEvent: "user.message" });
    expect(state.lastSeq).toBe(1); // an unsequenced error is no position
  });

  it("an unsequenced agent.error about a confirmation closes no run", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = reduce(
      state,
      f.plain("agent.error", { session_id: SID, metadata: { error_code: "STEP_ALREADY_ANSWERED", request_event: "user.response" } }),
    );
    expect(lastTurn(state).status).toBe("running");
    expect(state.busy).toBe(true);
  });

  it("a restore under a new session id adopts it; the run that was going on is marked unfinished", () => {
    const f = new Frames();
    let state = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    state = reduce(state, f.delta("par"));
    const g = new Frames("s-2");
    state = reduce(state, g.next("agent.state_restored", { metadata: { original_session_id: SID, message_count: 2, warnings: ["w"] } }));
    expect(state.sessionId).toBe("s-2");
    expect(state.lastSeq).toBe(1);
    expect(lastTurn(state).status).toBe("unfinished");
    expect(state.restored).toEqual({ reattached: false, messageCount: 2, warnings: ["w"] });
    expect(reduce(state, f.delta("late event of the old session"))).toBe(state);
  });

  it("connection status including reconnecting", () => {
    let state = setConnection(initialState(), "connecting");
    state = setConnection(state, "open");
    state = setConnection(state, "reconnecting");
    expect(state.connection).toBe("reconnecting");
    expect(setConnection(state, "reconnecting")).toBe(state);
    expect(revived(state).connection).toBe("idle");
  });

  it("malformed frames change nothing and throw nothing", () => {
    const f = new Frames();
    const base = addUserMessage(run(initialState(), [f.created()]), "hi", 1);
    const hostile: unknown[] = [
      null,
      42,
      "agent.final_answer",
      [],
      {},
      { event: 7 },
      { event: "agent.unknown", seq: 2, session_id: SID },
      { event: "agent.tool_result", session_id: SID, seq: 2.5, metadata: "not an object" },
      { event: "agent.partial_answer", session_id: SID, seq: -1, content: { a: 1 } },
      { event: "system.notice", metadata: { action: "cancel_task", task_id: { x: 1 } } },
    ];
    for (const frame of hostile) {
      const next = reduce(base, frame as ServerEvent);
      expect(next.messages).toEqual(base.messages);
      expect(next.busy).toBe(true);
    }
  });

  it("random frames built from the protocol's names never throw and keep the state JSON", () => {
    const names = [
      "agent.thinking", "agent.tool_call", "agent.user_confirm", "agent.tool_result", "agent.partial_answer",
      "agent.final_answer", "agent.error", "agent.interrupted", "agent.confirmation_withdrawn", "agent.state_restored",
      "plan.start", "plan.completed", "solver.start", "solver.completed", "solver.failed", "solver.cancelled",
      "solver.restarted", "aggregate.completed", "pipeline.tasks_completed", "system.notice", "system.error",
    ]; // prettier-ignore
    const values: unknown[] = [null, 1, "x", [], {}, { id: 1 }, [{ id: 2, title: 3 }], true, "2026-01-01T00:00:00Z"];
    let seed = 7;
    const pick = <T>(list: T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return list[seed % list.length]!;
    };
    let state = addUserMessage(initialState(), "q", 1);
    for (let i = 0; i < 2000; i++) {
      const metadata = Object.fromEntries(
        ["call_id", "origin", "task_id", "status", "scope", "expires_at", "tasks", "step_id", "data", "action"].map((k) => [k, pick(values)]),
      );
      const frame = { event: pick(names), session_id: pick([SID, "other", null]), seq: pick([i, null, "3"]), step_id: pick(values), content: pick(values), metadata: pick([metadata, null, "m"]) };
      state = reduce(state, frame as unknown as ServerEvent);
    }
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

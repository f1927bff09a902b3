// Runs the weather agent through POST /agui with the official AG-UI client (HttpAgent).
// Usage: node agui_weather.mjs http://127.0.0.1:PORT/agui  — prints one JSON report on stdout.
import { HttpAgent } from "@ag-ui/client";

const agent = new HttpAgent({ url: process.argv[2], threadId: "node-thread" });
const report = {};

function recorder(key) {
  report[key] = { events: [], outcome: null };
  return {
    onEvent: ({ event }) => {
      report[key].events.push(event.type);
    },
    onRunFinishedEvent: ({ event }) => {
      report[key].outcome = event.outcome ?? null;
    },
  };
}

agent.addMessage({ id: "u1", role: "user", content: "北京今天天气怎么样？" });
const first = await agent.runAgent({}, recorder("weather"));
report.weather.newMessages = first.newMessages;

agent.addMessage({ id: "u2", role: "user", content: "订阅上海的天气预警" });
await agent.runAgent({}, recorder("confirm"));
report.pendingInterrupts = agent.pendingInterrupts;

const resume = agent.pendingInterrupts.map((interrupt) => ({
  interruptId: interrupt.id,
  status: "resolved",
  payload: { approved: true },
}));
const resumed = await agent.runAgent({ resume }, recorder("resumed"));
report.resumed.newMessages = resumed.newMessages;
report.pendingAfter = agent.pendingInterrupts;

process.stdout.write(JSON.stringify(report));

/**
 * The README's examples, type-checked by `tsc --noEmit -p clients/js` (tests/test_js_client.py); not run.
 * A change of the API that breaks the README breaks this file.
 */
import { AgentClient, type ServerEvent, type StorageLike, WebStorageStateStore } from "@myagent/client";
import { AgentClient as NodeClient } from "@myagent/client/node";

export async function quickStart(): Promise<void> {
  const client = new AgentClient("ws://localhost:8080/");
  await client.connect();
  const session = await client.createSession();
  for await (const event of session.send("北京和上海的天气怎么样？")) {
    if (event.event === "agent.partial_answer") process.stdout.write(event.content);
    if (event.event === "agent.user_confirm") await session.confirm(event.step_id ?? "", true);
  }
  console.log(await session.ask("订阅上海的天气预警"));
  await client.close();
}

export function userInterface(client: AgentClient, session: Awaited<ReturnType<AgentClient["createSession"]>>): void {
  client.on("status", ({ status, attempt, retryIn, error }) => console.log(status, attempt, retryIn, error));
  client.on("event", ({ session: from, event }) => console.log(from.sessionId, event.event));
  client.on("error", (error) => console.warn(error));
  const stop = session.subscribe((event: ServerEvent) => console.log(event.event));
  session.on("restored", ({ previousId, sessionId }) => console.log(previousId, sessionId));
  session.on("closed", ({ reason, error }) => console.log(reason, error));
  stop();
}

export async function reloads(url: string, localStorage: StorageLike): Promise<void> {
  const store = new WebStorageStateStore(localStorage);
  const client = new AgentClient(url, { stateStore: store });
  await client.connect();
  const saved = localStorage.getItem("session-id");
  const state = saved === null ? null : store.load(saved);
  const session = state === null ? await client.createSession() : await client.restoreSession(state);
  localStorage.setItem("session-id", session.sessionId);
}

export async function node(): Promise<string> {
  const client = new NodeClient("ws://localhost:8080/", { token: () => process.env["MYAGENT_TOKEN"] });
  await client.connect();
  return (await client.createSession()).ask("北京天气怎么样？");
}

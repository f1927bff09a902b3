import { useAgentSession } from "@myagent/client/react";
import { type FormEvent, useState } from "react";
import { ConfirmDialog } from "./ConfirmDialog";
import { Conversation } from "./Conversation";
import { PlanPanel } from "./PlanPanel";

const CONNECTION_TEXT = {
  idle: "未连接",
  connecting: "连接中…",
  open: "已连接",
  reconnecting: "重新连接中…",
  closed: "已断开",
  failed: "连接失败",
} as const;

const EXAMPLES = ["北京和上海的天气怎么样？", "订阅上海的天气预警", "写一份销售报告：地区和趋势"];

export function App({ url }: { url: string }) {
  const agent = useAgentSession({ url });
  const [draft, setDraft] = useState("");
  const ready = agent.connection === "open" && agent.sessionId !== null;

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || agent.busy || !ready) return;
    setDraft("");
    void agent.send(text);
  };

  return (
    <div className="app">
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true">◆</span>
          <div>
            <h1>{agent.agentName ?? "MyAgent"}</h1>
            <p className="server">{url}</p>
          </div>
        </div>
        <div className="top-right">
          <span className="conn" data-state={agent.connection}>
            <i aria-hidden="true" />
            {CONNECTION_TEXT[agent.connection]}
          </span>
          {(agent.connection === "reconnecting" || agent.connection === "failed") && (
            <button type="button" className="btn ghost retry" onClick={() => agent.reconnect()}>
              立即重连
            </button>
          )}
          <button type="button" className="btn ghost" onClick={() => void agent.reset()} disabled={agent.busy}>
            新对话
          </button>
        </div>
      </header>

      <div className="body">
        <main className="chat" aria-live="polite">
          {agent.messages.length === 0 ? (
            <div className="empty">
              <h2>问点什么</h2>
              <p>试试这些（天气助手 examples/weather_agent.py，报告 examples/plan_solve_report.py）：</p>
              <div className="chips">
                {EXAMPLES.map((text) => (
                  <button type="button" key={text} className="chip" onClick={() => setDraft(text)}>
                    {text}
                  </button>
                ))}
              </div>
            </div>
          ) : (
            <Conversation agent={agent} />
          )}
          {agent.restored && (
            <p className="sysline">
              {agent.restored.reattached ? "已重新接入会话" : `已从保存的状态恢复会话（${agent.restored.messageCount} 条消息）`}
            </p>
          )}
          {agent.error && (
            <p className="sysline error" role="alert">
              {agent.error.code ? <code>{agent.error.code}</code> : null} {agent.error.message}
            </p>
          )}
        </main>
        {agent.plan && <PlanPanel agent={agent} />}
      </div>

      <form className="composer" onSubmit={submit}>
        <textarea
          aria-label="消息"
          placeholder={ready ? "输入消息，Enter 发送，Shift+Enter 换行" : "正在连接服务器…"}
          value={draft}
          rows={2}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) submit(e);
          }}
        />
        {agent.busy ? (
          <button type="button" className="btn stop" onClick={() => void agent.stop()}>
            停止
          </button>
        ) : (
          <button type="submit" className="btn primary" disabled={!ready || draft.trim() === ""}>
            发送
          </button>
        )}
      </form>

      {agent.confirmation && <ConfirmDialog agent={agent} />}
    </div>
  );
}

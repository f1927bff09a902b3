import type { AgentSessionHandle, AssistantMessage } from "@myagent/client/react";
import { useEffect, useRef } from "react";
import { ToolCard } from "./ToolCard";

const TURN_END = { running: "", done: "", failed: "失败", stopped: "已停止", unfinished: "未完成" } as const;

export function Conversation({ agent }: { agent: AgentSessionHandle }) {
  const end = useRef<HTMLDivElement>(null);
  const last = agent.messages[agent.messages.length - 1];
  useEffect(() => {
    end.current?.scrollIntoView({ block: "end" }); // (newer browsers return a promise: not a cleanup)
  }, [agent.messages.length, last]);
  return (
    <ol className="messages">
      {agent.messages.map((message) =>
        message.role === "user" ? (
          <li key={message.id} className="msg user">
            <div className="bubble">{message.text}</div>
            {message.error && <p className="note error">未发送：{message.error}</p>}
          </li>
        ) : (
          <Turn key={message.id} turn={message} agent={agent} />
        ),
      )}
      <div ref={end} />
    </ol>
  );
}

function Turn({ turn, agent }: { turn: AssistantMessage; agent: AgentSessionHandle }) {
  const steps = typeof turn.end?.steps === "number" ? turn.end.steps : null;
  return (
    <li className="msg assistant" data-status={turn.status}>
      {turn.parts.map((part, index) =>
        part.type === "text" ? (
          <div key={index} className={part.streaming ? "answer streaming" : "answer"}>
            {part.text}
          </div>
        ) : agent.tools[part.key] ? (
          <ToolCard key={part.key} call={agent.tools[part.key]!} />
        ) : null,
      )}
      {turn.status === "running" && turn.parts.length === 0 && (
        <div className="thinking" aria-label="思考中">
          <i />
          <i />
          <i />
        </div>
      )}
      {turn.error && (
        <p className="note error" role="alert">
          <code>{turn.error.code}</code> {turn.error.message}
        </p>
      )}
      {turn.status !== "running" && (
        <p className="foot">
          {TURN_END[turn.status]}
          {turn.status === "done" && steps !== null ? `${steps} 步` : ""}
        </p>
      )}
    </li>
  );
}

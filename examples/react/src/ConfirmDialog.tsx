import type { AgentSessionHandle } from "@myagent/client/react";
import { useEffect, useState } from "react";

/** The pending confirmation: approve or refuse (Enter / Escape), with an optional note and a countdown. */
export function ConfirmDialog({ agent }: { agent: AgentSessionHandle }) {
  const request = agent.confirmation!;
  const [note, setNote] = useState("");
  const left = useSecondsLeft(request.expiresAt);
  const answer = (confirmed: boolean) => void agent.respond(confirmed, note ? { message: note } : {});

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") answer(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const plan = request.scope === "plan";
  return (
    <div className="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
      <div className="modal-card">
        <h3 id="confirm-title">{plan ? "确认计划" : "确认操作"}</h3>
        <p className="confirm-message">{request.message}</p>
        {plan ? (
          <ol className="plan-review">
            {request.tasks.map((task, index) => (
              <li key={index}>{typeof task === "object" && task !== null && "title" in task ? String(task.title) : JSON.stringify(task)}</li>
            ))}
          </ol>
        ) : (
          <>
            <p>
              <strong>{request.toolName}</strong> {request.description}
            </p>
            <pre>{JSON.stringify(request.args ?? {}, null, 2)}</pre>
          </>
        )}
        <input aria-label="备注" placeholder="备注（可选）" value={note} onChange={(e) => setNote(e.target.value)} />
        <div className="modal-actions">
          {left !== null && <span className="countdown">{left} 秒后视为拒绝</span>}
          <button type="button" className="btn ghost" onClick={() => answer(false)}>
            拒绝
          </button>
          <button type="button" className="btn primary" autoFocus onClick={() => answer(true)}>
            批准
          </button>
        </div>
      </div>
    </div>
  );
}

function useSecondsLeft(expiresAt: number | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (expiresAt === null) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [expiresAt]);
  return expiresAt === null ? null : Math.max(0, Math.round((expiresAt - now) / 1000));
}

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

/** The server: `?ws=ws://host:port` in the address, else VITE_MYAGENT_URL at build time, else port 8080 here. */
function serverUrl(): string {
  const fromQuery = new URLSearchParams(location.search).get("ws");
  if (fromQuery) return fromQuery;
  const fromEnv = import.meta.env.VITE_MYAGENT_URL as string | undefined;
  if (fromEnv) return fromEnv;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.hostname || "localhost"}:8080`;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App url={serverUrl()} />
  </StrictMode>,
);

// The connection indicator in the top bar: Connected, Connecting…, Reconnecting in N s (with Retry now).
//
// The client reconnects by itself once it has been connected; until the first connection succeeds this
// keeps calling `connect()` with the same kind of backoff, so a page opened while the server restarts
// comes up by itself.

import { bindText } from "./i18n.js";

const FIRST_RETRY_MS = 400;
const MAX_RETRY_MS = 15_000;

export class ConnectionIndicator {
  /**
   * @param {import("../vendor/myagent-client/index.js").AgentClient} client
   * @param {{conn: HTMLElement, text: HTMLElement, retry: HTMLButtonElement}} el
   */
  constructor(client, el) {
    this.client = client;
    this.el = el;
    this.failures = 0; // first connection attempts that failed
    this.timer = null; // the next first-connection attempt
    this.retryAt = 0;
    this.countdown = null;
    this.client.on("status", (change) => {
      if (change.status === "reconnecting") this.retryAt = Date.now() + (change.retryIn ?? 0);
      this.render();
    });
    el.retry.addEventListener("click", () => this.retryNow());
    document.addEventListener("languagechange", () => this.render());
  }

  start() {
    window.addEventListener("online", () => this.retryNow());
    this.connect();
  }

  async connect() {
    this.timer = null;
    try {
      await this.client.connect();
      this.failures = 0;
    } catch {
      // Not connected yet: try again later (the client's own reconnect loop starts after the first success).
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures) * (0.8 + Math.random() * 0.4);
      this.failures += 1;
      this.retryAt = Date.now() + delay;
      this.timer = setTimeout(() => this.connect(), delay);
      this.render();
    }
  }

  /** Skip the rest of the wait before the next attempt. */
  retryNow() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.connect();
    } else if (this.client.status === "reconnecting") {
      this.client.retryNow();
    }
  }

  /** "online", "connecting" or "reconnecting". */
  get state() {
    const status = this.client.status;
    if (status === "open") return "online";
    if (status === "reconnecting" || this.timer !== null) return "reconnecting";
    return "connecting";
  }

  render() {
    const { el } = this;
    const state = this.state;
    el.conn.dataset.state = state;
    clearInterval(this.countdown);
    this.countdown = null;
    if (state !== "reconnecting") {
      el.retry.hidden = true;
      bindText(el.text, state === "online" ? "conn.online" : "conn.connecting");
      return;
    }
    const tick = () => {
      const left = Math.ceil((this.retryAt - Date.now()) / 1000);
      el.retry.hidden = left <= 0;
      if (left <= 0) bindText(el.text, "conn.reconnecting_now");
      else bindText(el.text, "conn.reconnecting", { s: left });
    };
    tick();
    this.countdown = setInterval(tick, 500);
  }
}

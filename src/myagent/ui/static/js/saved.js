// The signed state of the page's session kept in this browser (docs/state.md), and the session panel's
// Save, Export and "Save automatically" controls.
//
// This object is the client's state store: the client hands it every state it exports (after each
// final answer, and for Save and Export), and loads from it to restore a session the server no longer
// knows. A state is kept with the conversation on screen and the position it was saved at, so that a
// restore shows the conversation as it was.

import { downloadText, h } from "./dom.js";
import { bindText, formatTime } from "./i18n.js";
import * as storage from "./storage.js";

export class SavedState {
  /**
   * @param {{info: HTMLElement, autosave: HTMLInputElement}} el
   * @param {{session: () => object | null, agent: () => {name: string, description: string}, records: () => object[], toast: Function, changed: () => void}} page
   */
  constructor(el, page) {
    this.el = el;
    this.page = page;
    this.settings = storage.loadSettings();
    this.explicit = 0; // Save/Export clicks waiting for their state: kept even without autosave
    this.last = null; // {result, record} of the latest state kept
    this.has = false; // whether a state is saved (as last rendered)
    el.autosave.checked = this.settings.autosave;
    el.autosave.addEventListener("change", () => {
      this.settings.autosave = el.autosave.checked;
      storage.saveSettings(this.settings);
    });
    document.addEventListener("languagechange", () => this.render());
  }

  /** The saved record, or null. */
  get record() {
    return storage.loadSaved();
  }

  // -- the client's StateStore -----------------------------------------------------------------

  save(sessionId, signedState) {
    const session = this.page.session();
    if (!session || session.sessionId !== sessionId) return; // a session this page no longer shows
    if (!this.settings.autosave && this.explicit === 0) return;
    const agent = this.page.agent();
    const encrypted = signedState.encrypted === true;
    const messages = encrypted ? null : signedState.state?.messages;
    const record = {
      signed_state: signedState,
      saved_at: Date.now(),
      session_id: sessionId,
      agent_name: agent.name,
      agent_description: agent.description,
      message_count: Array.isArray(messages) ? messages.length : null,
      encrypted,
      last_event_id: session.lastEventId,
      last_seq: session.lastSeq,
      // An encrypted state is meant to reveal nothing of the conversation: its transcript is not kept.
      transcript: encrypted ? null : this.page.records(),
    };
    const result = storage.store(record);
    this.last = { result, record };
    this.render();
    if (result === "failed") this.page.toast("notice.error", { message: "localStorage" }, "error");
  }

  load(sessionId) {
    const saved = storage.loadSaved();
    return saved && saved.session_id === sessionId ? saved.signed_state : null;
  }

  // -- the panel's controls ----------------------------------------------------------------------

  /** Save ("manual") or Export ("export") the state of `session`; rejects when the server refuses. */
  async request(session, kind) {
    this.explicit += 1;
    try {
      await session.exportState(); // the client hands the state to save() before this resolves
    } finally {
      this.explicit -= 1;
    }
    const { result, record } = this.last ?? {};
    if (kind === "export" && record) {
      const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      downloadText(`myagent-session-${stamp}.json`, JSON.stringify({ format: 1, ...record }, null, 2));
    } else if (kind === "manual" && result === "full") this.page.toast("notice.saved", {}, "ok");
    else if (kind === "manual" && result === "without-transcript") this.page.toast("notice.saved_no_transcript", {}, "warn");
  }

  /** Keep an imported record; throws when the text is not an exported state. */
  importText(text) {
    const saved = storage.fromFile(text);
    storage.store(saved);
    this.render();
    return saved;
  }

  discard() {
    storage.discard();
    this.render();
  }

  render() {
    const saved = storage.loadSaved();
    const el = this.el.info;
    this.has = Boolean(saved);
    this.page.changed?.();
    if (!saved) {
      bindText(el, "session.nothing_saved");
      return;
    }
    const time = formatTime(new Date(saved.saved_at));
    if (typeof saved.message_count === "number") bindText(el, "session.saved_at", { time, n: saved.message_count });
    else bindText(el, "session.saved_at_time", { time });
    if (saved.encrypted) el.append(" · ", bindText(h("span"), "session.saved_encrypted"));
  }
}

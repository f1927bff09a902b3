// The signed session state kept in localStorage (docs/state.md), with the transcript shown on screen.
//
// The transcript is what this page rendered (the user's messages and the session's events), so a
// restore shows the conversation as it was. When the server encrypts states the transcript is not
// kept: an encrypted state is meant to reveal nothing of the conversation.

const KEY = "myagent.console.saved";
const SETTINGS_KEY = "myagent.console.settings";
const FORMAT = 1;

export function loadSaved() {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const saved = JSON.parse(raw);
    return isSaved(saved) ? saved : null;
  } catch {
    return null;
  }
}

export function isSaved(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    value.format === FORMAT &&
    value.signed_state !== null &&
    typeof value.signed_state === "object"
  );
}

/** Keep `saved`; returns "full", "without-transcript" or "failed" (storage full or unavailable). */
export function store(saved) {
  const record = { format: FORMAT, ...saved };
  try {
    localStorage.setItem(KEY, JSON.stringify(record));
    return "full";
  } catch {
    try {
      localStorage.setItem(KEY, JSON.stringify({ ...record, transcript: null }));
      return "without-transcript";
    } catch {
      return "failed";
    }
  }
}

export function discard() {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing to do
  }
}

/** A signed state as exported to a file: the saved record itself (it also restores the transcript). */
export function fromFile(text) {
  const value = JSON.parse(text);
  if (isSaved(value)) return value;
  // A bare signed state ({state, timestamp, version, checksum, signature}) works too.
  if (value && typeof value === "object" && "signature" in value && "state" in value) {
    return { format: FORMAT, signed_state: value, saved_at: Date.now(), transcript: null };
  }
  throw new Error("not a session state");
}

export function loadSettings() {
  try {
    return { autosave: true, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") };
  } catch {
    return { autosave: true };
  }
}

export function saveSettings(settings) {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // not persisted: fine
  }
}

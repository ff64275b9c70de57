// The shared page state (the `ui` object), the error box, and read-only questions about the
// batch on screen.

import { $ } from "./dom.js";

// What the page knows besides the server state.
export const ui = {
  state: null,
  batchKey: null,      // identifies the batch on screen; a new key moves to its first unlabeled item
  currentId: null,     // id of the item on screen
  selected: null,      // label chosen for the item on screen, not yet submitted
  pending: 0,          // mutating requests queued or in flight
  epoch: 0,            // counts mutations; a state read that overlapped one is not applied
  stateSeq: 0,         // order of state reads issued ...
  appliedSeq: 0,       // ... and the newest applied
  renderKeys: {},      // last data each list was built from, so unchanged lists are left alone
  queue: Promise.resolve(),
  pollTimer: null,
  pollDelay: null,
  errorFromStateRead: false, // the error shown came from reading the state (cleared by the next read)
  predToken: 0,
  predCache: new Map(), // "<id>:<model round>" -> prediction response
  predRound: undefined,
  exports: new Map(),   // export results this page received, by name (merged with state.exports)
  labelsKey: null,
  optionsKey: { strategy: null, embedder: null },
};

export function showError(err, fromStateRead = false) {
  const box = $("#error");
  box.textContent = err instanceof Error ? err.message : String(err);
  ui.errorFromStateRead = fromStateRead;
}

export function clearError() {
  $("#error").textContent = "";
  ui.errorFromStateRead = false;
}

// Runs build() only when the data differ from the last time for this key.
export function changed(key, data) {
  const k = JSON.stringify(data);
  if (ui.renderKeys[key] === k) return false;
  ui.renderKeys[key] = k;
  return true;
}

export function batchItems() {
  const b = ui.state && ui.state.batch;
  return b && Array.isArray(b.items) ? b.items : [];
}

export function firstUnlabeled(items, startIdx = 0) {
  for (let k = 0; k < items.length; k++) {
    const i = (startIdx + k) % items.length;
    if (items[i].label === null || items[i].label === undefined) return i;
  }
  return -1;
}

export function currentItem() {
  return batchItems().find((it) => it.id === ui.currentId) || null;
}

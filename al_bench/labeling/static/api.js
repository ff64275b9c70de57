// Talking to the server: fetch wrappers (state changes carry the X-AL-Bench header the server
// requires), the queue that sends mutations in order, and the polling of /api/state.

import { clearError, showError, ui } from "./state.js";

const POLL_MS = 1000;      // while a job runs
const IDLE_POLL_MS = 4000; // otherwise, to notice a job that started a moment after a request

class ApiError extends Error {}

async function request(method, url, body, { raw = false, contentType } = {}) {
  const opts = { method, headers: {} };
  if (method !== "GET") {
    opts.headers["X-AL-Bench"] = "1";
    if (raw) {
      opts.headers["Content-Type"] = contentType || "application/octet-stream";
      opts.body = body;
    } else {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body ?? {});
    }
  }
  let resp;
  try {
    resp = await fetch(url, opts);
  } catch (err) {
    throw new ApiError(`${method} ${url}: the server cannot be reached (${err.message})`);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const msg = data && typeof data.error === "string" && data.error
      ? data.error
      : `${method} ${url} failed: HTTP ${resp.status}${text && !data ? ` — ${text.slice(0, 200)}` : ""}`;
    throw new ApiError(msg);
  }
  if (method !== "GET") clearError();
  return data;
}

export const get = (url) => request("GET", url);
export const post = (url, body) => request("POST", url, body);
export const postRaw = (url, blob, contentType) => request("POST", url, blob, { raw: true, contentType });

// Mutations run one after another, so the server sees labels and undos in the order given;
// the state is re-read once the queue is empty.
export function enqueue(fn) {
  ui.pending += 1;
  ui.epoch += 1;
  const run = ui.queue.then(fn);
  ui.queue = run.catch(() => {}).finally(() => {
    ui.pending -= 1;
    if (ui.pending === 0) refreshState();
  });
  return run;
}

// The function that puts a state read on the page (view.js's applyState, set by main.js).
// Handed in rather than imported so that this module depends on no view: views import api.js.
let stateHandler = () => {};
export function setStateHandler(fn) {
  stateHandler = fn;
}

export async function refreshState() {
  const seq = ++ui.stateSeq;
  const epoch = ui.epoch;
  try {
    const st = await get("/api/state");
    if (ui.errorFromStateRead) clearError(); // the server is reachable again
    // a read that overlapped a label/undo may predate it; the queue re-reads when it is empty
    if (ui.pending === 0 && epoch === ui.epoch && seq > ui.appliedSeq) {
      ui.appliedSeq = seq;
      stateHandler(st);
    }
  } catch (err) {
    showError(err, true);
    schedulePoll();
  }
}

export function schedulePoll() {
  const running = !!(ui.state && ui.state.job && ui.state.job.state === "running");
  const delay = running ? POLL_MS : IDLE_POLL_MS;
  if (ui.pollTimer !== null) {
    if (!running || ui.pollDelay === delay) return;
    clearTimeout(ui.pollTimer); // a job just started: poll faster
  }
  ui.pollDelay = delay;
  ui.pollTimer = setTimeout(() => {
    ui.pollTimer = null;
    refreshState();
  }, delay);
}

// al-bench-label front end: plain ES2020, no build step, no external URLs.
// Every string that comes from the server is put in the page with textContent, never innerHTML.

const $ = (sel) => document.querySelector(sel);

const MAX_UPLOAD = 20 * 1024 * 1024; // the server refuses larger uploads
const POLL_MS = 1000;      // while a job runs
const IDLE_POLL_MS = 4000; // otherwise, to notice a job that started a moment after a request

// What the page knows besides the server state.
const ui = {
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

// ---------------------------------------------------------------- requests

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

const get = (url) => request("GET", url);
const post = (url, body) => request("POST", url, body);
const postRaw = (url, blob, contentType) => request("POST", url, blob, { raw: true, contentType });

function showError(err, fromStateRead = false) {
  const box = $("#error");
  box.textContent = err instanceof Error ? err.message : String(err);
  ui.errorFromStateRead = fromStateRead;
}

function clearError() {
  $("#error").textContent = "";
  ui.errorFromStateRead = false;
}

// Mutations run one after another, so the server sees labels and undos in the order given;
// the state is re-read once the queue is empty.
function enqueue(fn) {
  ui.pending += 1;
  ui.epoch += 1;
  const run = ui.queue.then(fn);
  ui.queue = run.catch(() => {}).finally(() => {
    ui.pending -= 1;
    if (ui.pending === 0) refreshState();
  });
  return run;
}

async function refreshState() {
  const seq = ++ui.stateSeq;
  const epoch = ui.epoch;
  try {
    const st = await get("/api/state");
    if (ui.errorFromStateRead) clearError(); // the server is reachable again
    // a read that overlapped a label/undo may predate it; the queue re-reads when it is empty
    if (ui.pending === 0 && epoch === ui.epoch && seq > ui.appliedSeq) {
      ui.appliedSeq = seq;
      applyState(st);
    }
  } catch (err) {
    showError(err, true);
    schedulePoll();
  }
}

function schedulePoll() {
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

// Runs build() only when the data differ from the last time for this key.
function changed(key, data) {
  const k = JSON.stringify(data);
  if (ui.renderKeys[key] === k) return false;
  ui.renderKeys[key] = k;
  return true;
}

// ---------------------------------------------------------------- state -> page

function applyState(st) {
  if (!st || typeof st !== "object") return;
  ui.state = st;
  renderJob(st.job);
  $("#project-title").textContent = st.project && st.project.name ? `— ${st.project.name}` : "";
  placeImportGroup(!!st.setup);
  if (!st.setup) {
    $("#setup").hidden = false;
    $("#workspace").hidden = true;
    renderSetup(st);
  } else {
    $("#setup").hidden = true;
    $("#workspace").hidden = false;
    renderLabeling(st);
    renderSide(st);
  }
  document.body.dataset.version = String(st.version ?? -1);
  schedulePoll();
}

// The server imports a model only into an existing project: before setup the import form sits
// in the setup view (and is sent right after "Create project"), afterwards in the side panel.
function placeImportGroup(isSetup) {
  const group = $("#import-group");
  const home = isSetup ? $("#side-import") : $("#import-slot");
  if (group.parentElement !== home) {
    if (isSetup) home.append(group);
    else home.after(group);
  }
  group.hidden = isSetup ? false : $("#model-type").value !== "imported";
}

function renderJob(job) {
  const box = $("#job");
  const j = job || { kind: null, state: "idle", message: "", progress: null, error: null };
  box.dataset.state = j.state || "idle";
  box.dataset.kind = j.kind || "";
  box.querySelector(".job-kind").textContent = j.kind && j.state !== "idle" ? j.kind : "";
  const failed = j.state === "failed";
  box.querySelector(".job-message").textContent = failed && j.message === "failed" ? "" : j.message || "";
  const bar = box.querySelector(".job-bar");
  const fill = box.querySelector(".job-fill");
  bar.hidden = j.state !== "running";
  if (typeof j.progress === "number") {
    bar.classList.remove("indeterminate");
    fill.style.width = `${Math.round(Math.max(0, Math.min(1, j.progress)) * 100)}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(j.progress * 100)));
  } else {
    bar.classList.add("indeterminate");
    fill.style.width = "";
    bar.removeAttribute("aria-valuenow");
  }
  box.querySelector(".job-error").textContent = failed ? `failed: ${j.error || "(no message)"}` : "";
}

function fillSelect(select, names, preferred, key, labelFor = (n) => n) {
  const newKey = JSON.stringify(names || []);
  if (ui.optionsKey[key] === newKey) return;
  const keep = ui.optionsKey[key] === null ? preferred : select.value || preferred;
  ui.optionsKey[key] = newKey;
  select.replaceChildren();
  for (const name of names || []) {
    const opt = document.createElement("option");
    opt.value = name;
    opt.textContent = labelFor(name);
    select.append(opt);
  }
  if ((names || []).includes(keep)) select.value = keep;
}

function renderSetup(st) {
  fillSelect($("#strategy"), st.strategies, "least_confidence", "strategy",
    (n) => (n === "kcenter" ? "kcenter (diversity)" : n));
  fillSelect($("#embedder"), st.embedders, "auto", "embedder");

  if (!changed("sources", [st.sources, st.problems, st.counts && st.counts.unreadable])) return;
  const sources = $("#sources");
  sources.replaceChildren();
  for (const s of st.sources || []) {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "tag";
    kind.textContent = s.kind;
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = s.path;
    const n = document.createElement("span");
    n.className = "muted";
    n.textContent = ` — ${s.n_items} image${s.n_items === 1 ? "" : "s"}`;
    li.append(kind, " ", path, n);
    sources.append(li);
  }
  if (!sources.children.length) sources.append(emptyItem("No images yet."));

  const problems = $("#problems");
  problems.replaceChildren();
  for (const p of st.problems || []) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "path";
    name.textContent = p.name;
    li.append(name, `: ${p.reason}`);
    problems.append(li);
  }
  const c = st.counts || {};
  if (c.unreadable > (st.problems || []).length) {
    problems.append(emptyItem(`(${c.unreadable} in all; the first ${(st.problems || []).length} are listed)`));
  }
  if (!problems.children.length) problems.append(emptyItem("None."));
}

function emptyItem(text) {
  const li = document.createElement("li");
  li.className = "muted";
  li.textContent = text;
  return li;
}

function batchItems() {
  const b = ui.state && ui.state.batch;
  return b && Array.isArray(b.items) ? b.items : [];
}

function firstUnlabeled(items, startIdx = 0) {
  for (let k = 0; k < items.length; k++) {
    const i = (startIdx + k) % items.length;
    if (items[i].label === null || items[i].label === undefined) return i;
  }
  return -1;
}

function renderLabeling(st) {
  const classes = (st.project && st.project.classes) || [];
  const labelsKey = JSON.stringify(classes);
  if (labelsKey !== ui.labelsKey) {
    ui.labelsKey = labelsKey;
    buildLabelButtons(classes);
  }

  const items = batchItems();
  const key = st.batch ? `${st.batch.selection}:${items.map((it) => it.id).join(",")}` : null;
  if (key !== ui.batchKey) {
    ui.batchKey = key;
    const i = firstUnlabeled(items);
    setCurrent(items.length ? items[i >= 0 ? i : 0].id : null);
  } else if (ui.currentId !== null && !items.some((it) => it.id === ui.currentId)) {
    setCurrent(items.length ? items[0].id : null);
  }
  const roundNow = st.model ? st.model.round : null;
  if (roundNow !== ui.predRound) {
    ui.predRound = roundNow;
    ui.predCache.clear();
    if (ui.currentId !== null) loadPrediction(ui.currentId);
  }
  renderItem();
}

function buildLabelButtons(classes) {
  const box = $("#label-buttons");
  box.replaceChildren();
  classes.forEach((cls, i) => {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "label-button";
    btn.dataset.label = cls;
    btn.setAttribute("aria-pressed", "false");
    if (i < 10) {
      const k = document.createElement("kbd");
      k.textContent = String((i + 1) % 10);
      btn.append(k, " ");
    }
    const name = document.createElement("span");
    name.textContent = cls;
    btn.append(name);
    btn.addEventListener("click", () => selectLabel(cls));
    box.append(btn);
  });
}

// The image of item ``id``; its revision (how often its file changed) in the URL, so a file
// replaced on disk is fetched anew instead of shown from the browser's cache.
function imageUrl(id) {
  const item = batchItems().find((it) => it.id === id);
  const rev = item && Number.isInteger(item.revision) && item.revision > 0 ? `?v=${item.revision}` : "";
  return `/api/image/${encodeURIComponent(id)}${rev}`;
}

function setCurrent(id) {
  const changed = id !== ui.currentId;
  ui.currentId = id;
  if (changed) {
    ui.selected = null;
    if (id !== null) {
      const img = $("#image");
      img.classList.remove("broken");
      img.src = imageUrl(id);
      loadPrediction(id);
      preloadNext();
    } else {
      $("#image").removeAttribute("src");
      $("#prediction").replaceChildren();
    }
  }
}

function preloadNext() {
  const items = batchItems();
  const idx = items.findIndex((it) => it.id === ui.currentId);
  if (idx < 0) return;
  const n = firstUnlabeled(items, idx + 1);
  if (n >= 0 && items[n].id !== ui.currentId) {
    const im = new Image();
    im.src = imageUrl(items[n].id);
  }
}

function renderItem() {
  const st = ui.state;
  const items = batchItems();
  const idx = items.findIndex((it) => it.id === ui.currentId);
  const item = idx >= 0 ? items[idx] : null;
  const done = items.filter((it) => it.label !== null && it.label !== undefined).length;
  const jobRunning = st.job && st.job.state === "running";

  $("#batch-progress").textContent = `${done} / ${items.length}`;
  $("#position").textContent = item ? `item ${idx + 1} of ${items.length}` : "";
  $("#item-view").hidden = !item;
  $("#prev").disabled = !item || items.length < 2;
  $("#next").disabled = !item || items.length < 2;

  let msg = "";
  let offerNext = false;
  const c = st.counts || {};
  if (!items.length) {
    if (jobRunning) msg = "Preparing a batch to label…";
    else if (c.unlabeled === 0 && c.items > 0) msg = "Every image is labeled.";
    else {
      msg = st.job && st.job.state === "failed" ? "No batch to label: the last job failed (message at the top)." : "No batch to label.";
      offerNext = true;
    }
  } else if (done === items.length) {
    if (ui.pending > 0) msg = "Batch done — sending the last label…";
    else if (jobRunning) msg = "Batch done — the model is retrained and the next batch is picked. It appears here when ready.";
    else if (c.unlabeled === 0) msg = "Batch done. Every image is labeled.";
    else {
      msg = "Batch done.";
      offerNext = true;
    }
  }
  $("#batch-message").textContent = msg;
  $("#next-batch").hidden = !offerNext;
  $("#next-batch").disabled = jobRunning;
  $("#retrain").disabled = jobRunning;

  // a label given before the image's file changed: shown, not counted, until labeled again
  const notice = $("#changed-notice");
  if (item && item.changed) {
    notice.textContent = `This image's file changed after it was labeled "${item.earlier_label}". ` +
      "That label was given to an earlier version and is not used: label the image as it is now.";
    notice.hidden = false;
  } else {
    notice.textContent = "";
    notice.hidden = true;
  }

  if (item) {
    const url = imageUrl(item.id);
    if ($("#image").getAttribute("src") !== url) $("#image").src = url; // its file changed meanwhile
    $("#image").alt = item.name;
    const name = $("#item-name");
    name.textContent = item.name;
    if (item.label !== null && item.label !== undefined) {
      const given = document.createElement("span");
      given.className = "given-label";
      given.textContent = ` — labeled: ${item.label}`;
      name.append(given);
    }
  }
  for (const btn of $("#label-buttons").querySelectorAll("button.label-button")) {
    const sel = btn.dataset.label === ui.selected;
    btn.classList.toggle("selected", sel);
    btn.setAttribute("aria-pressed", sel ? "true" : "false");
    btn.classList.toggle("given", !!item && item.label === btn.dataset.label);
  }
  $("#submit-label").disabled = !item || ui.selected === null;
}

async function loadPrediction(id) {
  const round = ui.state && ui.state.model ? ui.state.model.round : null;
  const key = `${id}:${round}`;
  const token = ++ui.predToken;
  let pred = ui.predCache.get(key);
  if (!pred) {
    try {
      pred = await get(`/api/predict/${encodeURIComponent(id)}`);
    } catch (err) {
      if (token === ui.predToken) {
        showError(err);
        $("#prediction").replaceChildren(textLine("Prediction unavailable."));
      }
      return;
    }
    ui.predCache.set(key, pred);
  }
  if (token !== ui.predToken || id !== ui.currentId) return;
  renderPrediction(pred);
}

function textLine(text) {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = text;
  return p;
}

function renderPrediction(pred) {
  const box = $("#prediction");
  box.replaceChildren();
  const top = (pred && Array.isArray(pred.top)) ? pred.top : [];
  if (!top.length) {
    box.append(textLine("no model yet"));
    return;
  }
  for (const row of top) {
    const p = Number(row.p) || 0;
    const div = document.createElement("div");
    div.className = "pred-row";
    div.dataset.label = row.label;
    div.dataset.p = String(row.p);
    const name = document.createElement("span");
    name.className = "pred-label";
    name.textContent = row.label;
    const bar = document.createElement("span");
    bar.className = "pred-bar";
    const fill = document.createElement("span");
    fill.className = "pred-fill";
    fill.style.width = `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;
    bar.append(fill);
    const val = document.createElement("span");
    val.className = "pred-p";
    val.textContent = `${(p * 100).toFixed(1)} %`;
    div.append(name, bar, val);
    box.append(div);
  }
  if (pred.model_round !== null && pred.model_round !== undefined) {
    box.append(textLine(`model of round ${pred.model_round}`));
  }
}

// ---------------------------------------------------------------- side panel

function renderSide(st) {
  const c = st.counts || {};
  $("#labeled-count").textContent = String(c.labeled ?? 0);
  $("#unlabeled-count").textContent = String(c.unlabeled ?? 0);

  const classes = (st.project && st.project.classes) || Object.keys(st.per_class || {});
  const perClass = st.per_class || {};
  if (changed("per-class", [classes, perClass])) renderPerClass(classes, perClass);
  if (changed("plot", st.rounds || [])) renderPlot(st.rounds || []);
  if (changed("model", [st.model, st.project])) renderModelInfo(st);
  if (changed("checkpoints", st.checkpoints || [])) renderCheckpoints(st.checkpoints || []);
  renderExports(st.exports || []);
}

function renderPerClass(classes, perClass) {
  const max = Math.max(1, ...classes.map((k) => perClass[k] || 0));
  const list = $("#per-class");
  list.replaceChildren();
  for (const cls of classes) {
    const n = perClass[cls] || 0;
    const li = document.createElement("li");
    li.dataset.label = cls;
    li.dataset.count = String(n);
    const name = document.createElement("span");
    name.className = "pc-label";
    name.textContent = cls;
    const bar = document.createElement("span");
    bar.className = "pc-bar";
    const fill = document.createElement("span");
    fill.className = "pc-fill";
    fill.style.width = `${(100 * n) / max}%`;
    bar.append(fill);
    const count = document.createElement("span");
    count.className = "pc-count";
    count.textContent = String(n);
    li.append(name, bar, count);
    list.append(li);
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function renderPlot(rounds) {
  const box = $("#accuracy-plot");
  box.replaceChildren();
  const pts = rounds
    .filter((r) => r.cv_accuracy !== null && r.cv_accuracy !== undefined && Number.isFinite(Number(r.cv_accuracy)))
    .map((r) => ({ x: Number(r.n_labeled), y: Number(r.cv_accuracy), sd: Number(r.cv_std) || 0, r }));
  if (!pts.length) {
    const last = rounds.length ? rounds[rounds.length - 1] : null;
    box.append(textLine(last && last.source ? `No estimate yet (${last.source}).`
      : "No estimate yet: it appears after the first retrain with enough labels."));
    return;
  }
  const W = 280, H = 150, L = 34, R = 10, T = 10, B = 26;
  let x0 = Math.min(...pts.map((p) => p.x)), x1 = Math.max(...pts.map((p) => p.x));
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let y0 = Math.min(...pts.map((p) => p.y - p.sd)), y1 = Math.max(...pts.map((p) => p.y + p.sd));
  y0 = Math.max(0, Math.floor(y0 * 10) / 10);
  y1 = Math.min(1, Math.ceil(y1 * 10) / 10);
  if (y1 - y0 < 0.1) { y0 = Math.max(0, y1 - 0.1); if (y1 - y0 < 0.1) y1 = y0 + 0.1; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);

  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  const title = svg("title");
  title.textContent = "Estimated accuracy against the number of labels";
  s.append(title);
  // axes and gridlines
  for (const yv of [y0, (y0 + y1) / 2, y1]) {
    s.append(svg("line", { x1: L, x2: W - R, y1: sy(yv), y2: sy(yv), class: "grid" }));
    const t = svg("text", { x: L - 4, y: sy(yv) + 3, class: "tick", "text-anchor": "end" });
    t.textContent = yv.toFixed(2);
    s.append(t);
  }
  s.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  for (const xv of [x0, x1]) {
    const t = svg("text", { x: sx(xv), y: H - B + 12, class: "tick", "text-anchor": "middle" });
    t.textContent = String(Math.round(xv));
    s.append(t);
  }
  const xl = svg("text", { x: (L + W - R) / 2, y: H - 2, class: "axis-label", "text-anchor": "middle" });
  xl.textContent = "labels";
  s.append(xl);
  // ±1 std band, line, points
  if (pts.length > 1) {
    const up = pts.map((p) => `${sx(p.x)},${sy(Math.min(1, p.y + p.sd))}`);
    const down = pts.slice().reverse().map((p) => `${sx(p.x)},${sy(Math.max(0, p.y - p.sd))}`);
    s.append(svg("polygon", { points: up.concat(down).join(" "), class: "band" }));
    s.append(svg("polyline", { points: pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), class: "line" }));
  }
  for (const p of pts) {
    const c = svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, class: "point", "data-n": p.x, "data-acc": p.y });
    const t = svg("title");
    t.textContent = `round ${p.r.round}: ${p.x} labels, ${(p.y * 100).toFixed(1)} % ± ${(p.sd * 100).toFixed(1)}`;
    c.append(t);
    s.append(c);
  }
  box.append(s);

  const last = pts[pts.length - 1];
  const summary = document.createElement("p");
  summary.className = "plot-summary";
  summary.textContent = `${(last.y * 100).toFixed(1)} % ± ${(last.sd * 100).toFixed(1)} at ${last.x} labels`;
  box.append(summary);
  const sources = [...new Set(pts.map((p) => p.r.source).filter(Boolean))];
  for (const src of sources) {
    const p = document.createElement("p");
    p.className = "plot-source muted";
    p.textContent = src;
    box.append(p);
  }
}

function renderModelInfo(st) {
  const dl = $("#model-info");
  dl.replaceChildren();
  const add = (k, v) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  };
  const p = st.project || {};
  const m = st.model;
  if (m) {
    add("round", String(m.round));
    add("trained on", `${m.n_labeled} labels`);
    add("kind", String(m.kind ?? p.model ?? ""));
    if (m.temperature !== null && m.temperature !== undefined) {
      add("temperature", Number(m.temperature).toFixed(3));
    }
  } else {
    add("model", "none yet");
  }
  if (p.strategy) add("strategy", p.strategy);
  if (p.batch_size) add("batch size", String(p.batch_size));
  if (p.embedder) add("embedder", p.embedder_resolved ? `${p.embedder} → ${p.embedder_resolved}` : p.embedder);
}

function renderCheckpoints(cps) {
  const list = $("#checkpoints");
  list.replaceChildren();
  for (const cp of cps) {
    const li = document.createElement("li");
    li.dataset.name = cp.name;
    const name = document.createElement("span");
    name.className = "cp-name";
    name.textContent = cp.name;
    const meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = ` ${cp.n_labeled} labels${cp.created ? ` · ${shortTime(cp.created)}` : ""} `;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "restore";
    btn.dataset.name = cp.name;
    btn.textContent = "Restore";
    btn.addEventListener("click", () => restoreCheckpoint(cp.name));
    li.append(name, meta, btn);
    list.append(li);
  }
  if (!list.children.length) list.append(emptyItem("No checkpoints yet."));
}

function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function safeHref(url) {
  // links only to this server (relative paths); anything else is shown as text
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}

function renderExports(serverExports) {
  for (const e of serverExports) ui.exports.set(e.name, e);
  if (!changed("exports", [...ui.exports.values()])) return;
  const list = $("#exports");
  list.replaceChildren();
  const all = [...ui.exports.values()].reverse(); // newest first
  for (const e of all) {
    const li = document.createElement("li");
    li.dataset.name = e.name;
    li.dataset.kind = e.kind || "";
    const kind = document.createElement("span");
    kind.className = "tag";
    kind.textContent = e.kind || "export";
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = e.path;
    li.append(kind, " ", path);
    const href = safeHref(e.download);
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.setAttribute("download", "");
      a.textContent = "download";
      li.append(" ", a);
    }
    list.append(li);
  }
}

// ---------------------------------------------------------------- actions: setup

function parseLabels(text) {
  const out = [];
  for (const part of text.split(/[\n,]/)) {
    const t = part.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

function sourceSummary(res) {
  const skipped = (res && res.skipped) || [];
  let s = `Added ${res ? res.added : 0} image${res && res.added === 1 ? "" : "s"}`;
  if (res && res.labeled) s += ` (${res.labeled} already labeled)`;
  if (skipped.length) s += `, skipped ${skipped.length}`;
  return `${s}.`;
}

function addSource(body, button) {
  button.disabled = true;
  return enqueue(async () => {
    try {
      const res = await post("/api/sources", body);
      $("#source-status").textContent = sourceSummary(res);
      return res;
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });
}

function onAddFolder() {
  const folder = $("#folder-path").value.trim();
  if (!folder) { showError("Type a folder path first."); return; }
  addSource({ folder }, $("#add-folder"));
}

function onAddCsvPath() {
  const csvPath = $("#csv-path").value.trim();
  if (!csvPath) { showError("Type a CSV file path first."); return; }
  addSource({ csv_path: csvPath }, $("#add-csv"));
}

async function onCsvFile() {
  const input = $("#csv-file");
  const file = input.files && input.files[0];
  if (!file) return;
  let text;
  try {
    text = await file.text();
  } catch (err) {
    showError(`Cannot read ${file.name}: ${err.message}`);
    return;
  }
  await addSource({ csv_text: text, csv_name: file.name }, $("#add-csv"));
  input.value = "";
}

function onUploadFiles() {
  const input = $("#upload-files");
  const files = [...(input.files || [])];
  if (!files.length) return;
  input.disabled = true;
  const status = $("#source-status");
  enqueue(async () => {
    let added = 0;
    let skipped = 0;
    const failed = [];
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      status.textContent = `Uploading ${i + 1} / ${files.length}: ${f.name}`;
      if (f.size > MAX_UPLOAD) {
        failed.push(`${f.name}: larger than 20 MB`);
        continue;
      }
      try {
        const res = await postRaw(`/api/upload?name=${encodeURIComponent(f.name)}`, f);
        added += (res && res.added) || 0;
        skipped += ((res && res.skipped) || []).length;
      } catch (err) {
        failed.push(`${f.name}: ${err.message}`);
      }
    }
    status.textContent = `Uploaded ${added} image${added === 1 ? "" : "s"}${skipped ? `, skipped ${skipped}` : ""}${failed.length ? `, ${failed.length} failed` : ""}.`;
    if (failed.length) showError(`${failed.length} upload${failed.length === 1 ? "" : "s"} failed: ${failed.join("; ")}`);
    input.value = "";
    input.disabled = false;
  });
}

function onModelType() {
  const imported = $("#model-type").value === "imported";
  $("#import-group").hidden = !imported;
  const classes = $("#import-classes");
  if (imported && !classes.value) {
    const n = parseLabels($("#labels").value).length;
    if (n) classes.value = String(n);
  }
}

function importChoice() {
  const n = parseInt($("#import-classes").value, 10);
  const file = $("#import-file").files && $("#import-file").files[0];
  if (!Number.isInteger(n) || n < 1) { showError("Give the number of classes of the model."); return null; }
  if (!file) { showError("Choose a model file (.pt) first."); return null; }
  return { n, file };
}

// POST the chosen model file; call inside enqueue. Returns true when the server took it.
async function sendImport(choice) {
  const btn = $("#import-model");
  btn.disabled = true;
  $("#import-status").textContent = `Importing ${choice.file.name}…`;
  try {
    await postRaw(`/api/import_model?classes=${choice.n}`, choice.file);
    $("#import-status").textContent = `Imported ${choice.file.name}.`;
    return true;
  } catch (err) {
    $("#import-status").textContent = "";
    showError(err);
    return false;
  } finally {
    btn.disabled = false;
  }
}

function onImportModel() {
  const choice = importChoice();
  if (!choice) return;
  if (!ui.state || !ui.state.setup) {
    // the project (its labels) must exist first: "Create project" sends the file right after
    $("#import-status").textContent = `${choice.file.name} is imported when the project is created.`;
    return;
  }
  enqueue(() => sendImport(choice));
}

function onCreateProject() {
  const labels = parseLabels($("#labels").value);
  if (!labels.length) { showError("Type the labels first (one per line or comma separated)."); return; }
  const body = {
    name: $("#project-name").value.trim(),
    labels,
    strategy: $("#strategy").value || "least_confidence",
    batch_size: parseInt($("#batch-size").value, 10) || 20,
    embedder: $("#embedder").value || "auto",
    model: $("#model-type").value === "imported" ? "imported" : "linear",
  };
  const btn = $("#create-project");
  btn.disabled = true;
  enqueue(async () => {
    try {
      const wantImport = body.model === "imported";
      let choice = null;
      if (wantImport) {
        choice = importChoice();
        if (!choice) return;
      }
      const st = await post("/api/setup", body);
      if (choice) await sendImport(choice);
      if (st && typeof st === "object" && "version" in st) applyState(st);
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- actions: labeling

function selectLabel(cls) {
  if (!currentItem()) return;
  ui.selected = cls;
  renderItem();
}

function currentItem() {
  return batchItems().find((it) => it.id === ui.currentId) || null;
}

function submitLabel() {
  const item = currentItem();
  const label = ui.selected;
  if (!item || label === null) return;
  const previous = item.label;
  // Show the next item right away; the request is queued behind any earlier ones.
  item.label = label;
  const items = batchItems();
  const idx = items.indexOf(item);
  const n = firstUnlabeled(items, idx + 1);
  ui.selected = null;
  if (n >= 0) setCurrent(items[n].id);
  renderItem();
  enqueue(async () => {
    try {
      await post("/api/label", { item: item.id, label });
    } catch (err) {
      item.label = previous;
      setCurrent(item.id);
      renderItem();
      showError(err);
    }
  });
}

function undo() {
  if (!ui.state || !ui.state.setup) return;
  enqueue(async () => {
    try {
      const res = await post("/api/undo", {});
      const id = res ? res.item : null;
      if (id !== null && id !== undefined) {
        const it = batchItems().find((x) => x.id === id);
        if (it) it.label = null;
        if (it) setCurrent(id);
        renderItem();
      }
    } catch (err) {
      showError(err);
    }
  });
}

function move(step) {
  const items = batchItems();
  if (!items.length) return;
  const idx = Math.max(0, items.findIndex((it) => it.id === ui.currentId));
  setCurrent(items[(idx + step + items.length) % items.length].id);
  renderItem();
}

function startJob(url, button) {
  if (button) button.disabled = true;
  enqueue(async () => {
    try {
      await post(url, {});
    } catch (err) {
      showError(err);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- actions: side panel

function saveCheckpoint() {
  const input = $("#checkpoint-name");
  let name = input.value.trim();
  if (!name) name = `labels-${(ui.state && ui.state.counts && ui.state.counts.labeled) || 0}`;
  const btn = $("#save-checkpoint");
  btn.disabled = true;
  enqueue(async () => {
    try {
      await post("/api/checkpoint", { name });
      input.value = "";
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  });
}

function restoreCheckpoint(name) {
  enqueue(async () => {
    try {
      const st = await post("/api/restore", { name });
      ui.batchKey = null; // show the restored batch from its first unlabeled item
      if (st && typeof st === "object" && "version" in st) applyState(st);
    } catch (err) {
      showError(err);
    }
  });
}

function rememberExport(res) {
  if (res && res.name) ui.exports.set(res.name, res);
  if (ui.state) renderExports(ui.state.exports || []);
}

function exportModel() {
  const btn = $("#export-model");
  btn.disabled = true;
  enqueue(async () => {
    try {
      rememberExport(await post("/api/export/model", {}));
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  });
}

function exportLabels() {
  const format = $("#export-format").value;
  const body = { format };
  if (format === "imagefolder") {
    body.dest = $("#export-dest").value.trim();
    body.mode = $("#export-mode").value;
    if (!body.dest) { showError("Type a destination folder for the imagefolder export."); return; }
  }
  const btn = $("#export-labels");
  btn.disabled = true;
  enqueue(async () => {
    try {
      rememberExport(await post("/api/export/labels", body));
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- keyboard

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  return !!target.closest("input, textarea, select, [contenteditable='true'], [contenteditable='']");
}

function onKeyDown(e) {
  if (!ui.state || !ui.state.setup || $("#workspace").hidden) return;
  if (isTyping(e.target)) return;
  const key = e.key;
  const plain = !e.ctrlKey && !e.metaKey && !e.altKey;

  if (plain && /^[0-9]$/.test(key)) {
    // 1–9 are the first nine labels, 0 the tenth
    const classes = (ui.state.project && ui.state.project.classes) || [];
    const cls = classes[key === "0" ? 9 : Number(key) - 1];
    if (cls !== undefined) {
      e.preventDefault();
      selectLabel(cls);
    }
    return;
  }
  if (plain && key === "Enter") {
    // with a label chosen, Enter submits it (even when a button has the focus)
    if (ui.selected !== null && currentItem()) {
      e.preventDefault();
      submitLabel();
    }
    return;
  }
  if (plain && key === "ArrowLeft") { e.preventDefault(); move(-1); return; }
  if (plain && key === "ArrowRight") { e.preventDefault(); move(1); return; }
  const ctrlZ = (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && (key === "z" || key === "Z");
  if ((plain && (key === "Backspace" || key === "u" || key === "U")) || ctrlZ) {
    e.preventDefault();
    undo();
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  $("#add-folder").addEventListener("click", onAddFolder);
  $("#folder-path").addEventListener("keydown", (e) => { if (e.key === "Enter") onAddFolder(); });
  $("#add-csv").addEventListener("click", onAddCsvPath);
  $("#csv-path").addEventListener("keydown", (e) => { if (e.key === "Enter") onAddCsvPath(); });
  $("#csv-file").addEventListener("change", onCsvFile);
  $("#upload-files").addEventListener("change", onUploadFiles);
  $("#model-type").addEventListener("change", onModelType);
  $("#import-model").addEventListener("click", onImportModel);
  $("#create-project").addEventListener("click", onCreateProject);

  $("#submit-label").addEventListener("click", submitLabel);
  $("#undo").addEventListener("click", undo);
  $("#prev").addEventListener("click", () => move(-1));
  $("#next").addEventListener("click", () => move(1));
  $("#next-batch").addEventListener("click", () => startJob("/api/next", $("#next-batch")));
  $("#retrain").addEventListener("click", () => startJob("/api/retrain", $("#retrain")));

  $("#save-checkpoint").addEventListener("click", saveCheckpoint);
  $("#checkpoint-name").addEventListener("keydown", (e) => { if (e.key === "Enter") saveCheckpoint(); });
  $("#export-model").addEventListener("click", exportModel);
  $("#export-labels").addEventListener("click", exportLabels);
  $("#export-format").addEventListener("change", () => {
    $("#export-folder-options").hidden = $("#export-format").value !== "imagefolder";
  });

  const img = $("#image");
  img.addEventListener("load", () => {
    // small images (e.g. 32×32) are scaled up with hard pixel edges; large ones are drawn smoothly
    img.classList.toggle("large", img.naturalWidth >= 256 || img.naturalHeight >= 256);
  });
  img.addEventListener("error", () => {
    if (img.getAttribute("src")) img.classList.add("broken");
  });

  document.addEventListener("keydown", onKeyDown);
  refreshState();
}

init();

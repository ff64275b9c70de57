// Server state -> page: which view shows (setup or workspace), the job bar in the top bar and
// the setup form; the labeling view and the side panel are drawn by render.js and panel.js.

import { $, emptyItem } from "./dom.js";
import { schedulePoll } from "./api.js";
import { renderSide } from "./panel.js";
import { renderLabeling } from "./render.js";
import { changed, ui } from "./state.js";

export function applyState(st) {
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
  fillSelect($("#strategy"), st.strategies, "auto", "strategy",
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

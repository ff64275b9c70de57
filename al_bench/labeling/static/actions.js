// What the controls do: setup (sources, uploads, model import, create), labeling (choose,
// submit, undo, move, retrain / next batch) and the side panel (checkpoints, exports).
// Every request that changes state goes through enqueue(), so the server sees them in order.

import { $ } from "./dom.js";
import { enqueue, post, postRaw } from "./api.js";
import { renderExports } from "./panel.js";
import { renderItem, setCurrent } from "./render.js";
import { batchItems, currentItem, firstUnlabeled, showError, ui } from "./state.js";
import { applyState } from "./view.js";

// ---------------------------------------------------------------- setup

const MAX_UPLOAD = 20 * 1024 * 1024; // the server refuses larger uploads

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

export function onAddFolder() {
  const folder = $("#folder-path").value.trim();
  if (!folder) { showError("Type a folder path first."); return; }
  addSource({ folder }, $("#add-folder"));
}

export function onAddCsvPath() {
  const csvPath = $("#csv-path").value.trim();
  if (!csvPath) { showError("Type a CSV file path first."); return; }
  addSource({ csv_path: csvPath }, $("#add-csv"));
}

export async function onCsvFile() {
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

export function onUploadFiles() {
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

export function onModelType() {
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

export function onImportModel() {
  const choice = importChoice();
  if (!choice) return;
  if (!ui.state || !ui.state.setup) {
    // the project (its labels) must exist first: "Create project" sends the file right after
    $("#import-status").textContent = `${choice.file.name} is imported when the project is created.`;
    return;
  }
  enqueue(() => sendImport(choice));
}

export function onCreateProject() {
  const labels = parseLabels($("#labels").value);
  if (!labels.length) { showError("Type the labels first (one per line or comma separated)."); return; }
  const body = {
    name: $("#project-name").value.trim(),
    labels,
    strategy: $("#strategy").value || "auto",
    batch_size: parseInt($("#batch-size").value, 10) || 20,
    audit_fraction: $("#audit-fraction").value === "" ? 0.25 : Number($("#audit-fraction").value),
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

// ---------------------------------------------------------------- labeling

export function selectLabel(cls) {
  if (!currentItem()) return;
  ui.selected = cls;
  renderItem();
}

export function submitLabel() {
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

export function undo() {
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

export function move(step) {
  const items = batchItems();
  if (!items.length) return;
  const idx = Math.max(0, items.findIndex((it) => it.id === ui.currentId));
  setCurrent(items[(idx + step + items.length) % items.length].id);
  renderItem();
}

export function startJob(url, button) {
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

// ---------------------------------------------------------------- side panel

export function saveCheckpoint() {
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

export function restoreCheckpoint(name) {
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

export function exportModel() {
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

export function exportLabels() {
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

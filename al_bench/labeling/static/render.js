// The labeling view: label buttons, the item on screen, its image, the batch message and the
// current model's prediction.

import { $, textLine } from "./dom.js";
import { get } from "./api.js";
import { batchItems, firstUnlabeled, showError, ui } from "./state.js";

export function renderLabeling(st) {
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
    btn.append(name); // a click is handled by main.js on #label-buttons (data-label)
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

export function setCurrent(id) {
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

export function renderItem() {
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

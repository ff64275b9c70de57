// al-bench-label front end: plain ES2020 modules, no build step, no external URLs.
// Every string that comes from the server is put in the page with textContent, never innerHTML.
//
// Modules, each importing only those above it (no cycles):
//   dom.js      $ and small element builders
//   state.js    the shared `ui` object, the error box, questions about the batch on screen
//   api.js      fetch wrappers, the ordered mutation queue, polling of /api/state
//   render.js   the labeling view          panel.js   the side panel
//   view.js     state -> page: setup or workspace, the job bar, the setup form
//   actions.js  what the controls do       keys.js    keyboard shortcuts
//   main.js     this file: wires the controls to the actions and starts polling

import { $ } from "./dom.js";
import { refreshState, setStateHandler } from "./api.js";
import {
  exportLabels, exportModel, move, onAddCsvPath, onAddFolder, onCreateProject, onCsvFile, onImportModel,
  onModelType, onUploadFiles, restoreCheckpoint, saveCheckpoint, selectLabel, startJob, submitLabel, undo,
} from "./actions.js";
import { onKeyDown } from "./keys.js";
import { applyState } from "./view.js";

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
  // The views rebuild these buttons from the state; one listener on each container handles them,
  // so render.js and panel.js need not import actions.js (which imports them).
  $("#label-buttons").addEventListener("click", (e) => {
    const btn = e.target instanceof Element ? e.target.closest("button.label-button") : null;
    if (btn) selectLabel(btn.dataset.label);
  });
  $("#next-batch").addEventListener("click", () => startJob("/api/next", $("#next-batch")));
  $("#retrain").addEventListener("click", () => startJob("/api/retrain", $("#retrain")));

  $("#save-checkpoint").addEventListener("click", saveCheckpoint);
  $("#checkpoint-name").addEventListener("keydown", (e) => { if (e.key === "Enter") saveCheckpoint(); });
  $("#checkpoints").addEventListener("click", (e) => {
    const btn = e.target instanceof Element ? e.target.closest("button.restore") : null;
    if (btn) restoreCheckpoint(btn.dataset.name);
  });
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
  setStateHandler(applyState);
  refreshState();
}

init();

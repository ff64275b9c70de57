// Keyboard shortcuts of the labeling view: 1–9 and 0 choose a label, Enter submits, ←/→ move,
// Backspace / u / Ctrl+Z undo; ignored while typing in a form field.

import { $ } from "./dom.js";
import { move, selectLabel, submitLabel, undo } from "./actions.js";
import { currentItem, ui } from "./state.js";

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  return !!target.closest("input, textarea, select, [contenteditable='true'], [contenteditable='']");
}

export function onKeyDown(e) {
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

// The side panel: labels per class, the accuracy plot, model info, checkpoints and exports.

import { $, emptyItem, svg, textLine } from "./dom.js";
import { changed, ui } from "./state.js";

export function renderSide(st) {
  const c = st.counts || {};
  $("#labeled-count").textContent = String(c.labeled ?? 0);
  $("#unlabeled-count").textContent = String(c.unlabeled ?? 0);

  const classes = (st.project && st.project.classes) || Object.keys(st.per_class || {});
  const perClass = st.per_class || {};
  if (changed("per-class", [classes, perClass])) renderPerClass(classes, perClass);
  if (changed("plot", [st.rounds || [], st.forecast || null])) renderPlot(st.rounds || [], st.forecast || null);
  if (changed("stop", [st.stop || null, st.rounds || []])) renderStop(st.stop || null, st.rounds || [], st.forecast || null);
  if (changed("model", [st.model, st.project, st.batch && st.batch.reason])) renderModelInfo(st);
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

// The audit estimate (accuracy on the unlabeled images, 95 % interval) where the rounds have one;
// a project without an audit shows cross-validation on its labeled images, which says what it is.
function plotPoints(rounds) {
  const fin = (v) => v !== null && v !== undefined && Number.isFinite(Number(v));
  const audited = rounds.filter((r) => r.estimate && fin(r.estimate.accuracy));
  if (audited.length) {
    return audited.map((r) => {
      const e = r.estimate;
      return { x: Number(r.n_labeled), y: Number(e.accuracy), lo: Number(e.ci_low), hi: Number(e.ci_high), r,
        what: "95 % interval", src: `the model's confidence on the unlabeled images, corrected by ${e.n_audit} `
          + "audited images (a uniform share of each batch) predicted by cross-validation models that did not see "
          + "them: the accuracy to expect on the unlabeled images" };
    });
  }
  return rounds.filter((r) => fin(r.cv_accuracy)).map((r) => {
    const y = Number(r.cv_accuracy), sd = Number(r.cv_std) || 0;
    return { x: Number(r.n_labeled), y, lo: Math.max(0, y - sd), hi: Math.min(1, y + sd), r, what: "± 1 std",
      src: r.source };
  });
}

function renderPlot(rounds, forecast) {
  const box = $("#accuracy-plot");
  box.replaceChildren();
  const pts = plotPoints(rounds);
  if (!pts.length) {
    const last = rounds.length ? rounds[rounds.length - 1] : null;
    box.append(textLine(last && last.source ? `No estimate yet (${last.source}).`
      : "No estimate yet: it appears after the first retrain with enough labels."));
    return;
  }
  const W = 280, H = 150, L = 34, R = 10, T = 10, B = 26;
  // the forecast (from the audit estimates only) continues the curve over the next labels
  const fc = forecast && forecast.curve && pts.some((p) => p.r.estimate) ? forecast.curve : null;
  let x0 = Math.min(...pts.map((p) => p.x)), x1 = Math.max(...pts.map((p) => p.x), ...(fc ? fc.n : []));
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let y0 = Math.min(...pts.map((p) => p.lo), ...(fc ? fc.lo : [])), y1 = Math.max(...pts.map((p) => p.hi), ...(fc ? fc.hi : []));
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
  // interval band, line, points
  if (pts.length > 1) {
    const up = pts.map((p) => `${sx(p.x)},${sy(p.hi)}`);
    const down = pts.slice().reverse().map((p) => `${sx(p.x)},${sy(p.lo)}`);
    s.append(svg("polygon", { points: up.concat(down).join(" "), class: "band" }));
    s.append(svg("polyline", { points: pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), class: "line" }));
  }
  if (fc) {
    const up = fc.n.map((n, i) => `${sx(n)},${sy(Math.min(1, fc.hi[i]))}`);
    const down = fc.n.map((n, i) => `${sx(n)},${sy(Math.max(0, fc.lo[i]))}`).reverse();
    s.append(svg("polygon", { points: up.concat(down).join(" "), class: "forecast-band" }));
    s.append(svg("polyline", { points: fc.n.map((n, i) => `${sx(n)},${sy(fc.acc[i])}`).join(" "), class: "forecast" }));
  }
  for (const p of pts) {
    const c = svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, class: "point", "data-n": p.x, "data-acc": p.y });
    const t = svg("title");
    t.textContent = `round ${p.r.round}: ${p.x} labels, ${pct(p.y)} (${p.what} ${pct(p.lo)} – ${pct(p.hi)})`;
    c.append(t);
    s.append(c);
  }
  box.append(s);

  const last = pts[pts.length - 1];
  const summary = document.createElement("p");
  summary.className = "plot-summary";
  summary.textContent = `${pct(last.y)} (${intervalText(last)}) at ${last.x} labels`;
  box.append(summary);
  const e = last.r.estimate;
  if (e && e.balanced_accuracy !== null && e.balanced_accuracy !== undefined) {
    const b = document.createElement("p");
    b.className = "plot-summary";
    b.textContent = `balanced accuracy ${pct(e.balanced_accuracy)} (${pct(e.balanced_ci_low)} – ${pct(e.balanced_ci_high)})`;
    box.append(b);
  }
  const sources = last.src ? [last.src] : [];  // the latest point's (its audit count)
  for (const src of sources) {
    const p = document.createElement("p");
    p.className = "plot-source muted";
    p.textContent = src;
    box.append(p);
  }
}

// The forecast's numbers, kappa and the stop suggestion with each rule: a suggestion only.
function renderStop(stop, rounds, forecast) {
  const box = $("#stop-suggestion");
  box.replaceChildren();
  if (forecast) {
    const [lo, hi] = forecast.next_gain_ci;
    box.append(textLine(`Forecast (dashed): the next ${forecast.next} labels buy ${pts(forecast.next_gain)} points `
      + `(95 %: ${pts(lo)} to ${pts(hi)}); plateau about ${pct(forecast.plateau)}`
      + (forecast.precise ? "." : " — too few audited images to tell yet.")));
  }
  const k = rounds.length ? rounds[rounds.length - 1].kappa : null;
  if (k !== null && k !== undefined) {
    box.append(textLine(`Agreement with the previous model on the stop set: Cohen's κ = ${Number(k).toFixed(3)}.`));
  }
  if (!stop) return;
  const head = document.createElement("p");
  head.className = "stop-head";
  head.dataset.stop = stop.stop ? "yes" : "no";
  head.textContent = stop.stop ? "Suggestion: you could stop labeling." : "Suggestion: keep labeling.";
  box.append(head);
  const ul = document.createElement("ul");
  ul.className = "plain-list stop-rules";
  for (const r of stop.rules) {
    const li = document.createElement("li");
    li.textContent = `${r.met ? "✓" : "✗"} ${r.rule}${r.value !== null && r.rule.startsWith("stabilizing")
      ? ` (now ${Number(r.value).toFixed(3)})` : ""}`;
    ul.append(li);
  }
  box.append(ul);
  box.append(textLine(stop.note));
}

function pts(v) {
  return `${v >= 0 ? "+" : ""}${(Number(v) * 100).toFixed(1)}`;
}

function pct(v) {
  return `${(Number(v) * 100).toFixed(1)} %`;
}

function intervalText(p) {
  return `${p.what} ${pct(p.lo)} – ${pct(p.hi)}`;
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
  const b = st.batch;
  if (b && b.candidate) {
    add("this batch", `${b.strategy} → ${b.candidate}`);
    if (b.reason) add("why", b.reason);
  }
  if (p.batch_size) add("batch size", String(p.batch_size));
  if (p.audit_fraction !== undefined) {
    add("audit share", p.audit_fraction > 0 ? `${Math.round(p.audit_fraction * 100)} % of each batch, drawn at random`
      : "none (no accuracy estimate)");
  }
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
    btn.textContent = "Restore"; // a click is handled by main.js on #checkpoints (data-name)
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

export function renderExports(serverExports) {
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

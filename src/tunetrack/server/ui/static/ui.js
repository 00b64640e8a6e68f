// tunetrack UI: draws the server-built plotly figures and wires the few interactive bits.
// No inline script anywhere: figures arrive as <script type="application/json"> blocks.
"use strict";

const originals = new Map(); // chart id -> original y arrays (for smoothing)

function drawFigures() {
  if (typeof Plotly === "undefined") return;
  for (const block of document.querySelectorAll("script.figure-data")) {
    const target = document.getElementById(block.dataset.target);
    if (!target) continue;
    const fig = JSON.parse(block.textContent);
    originals.set(target.id, fig.data.map((t) => (t.y ? t.y.slice() : null)));
    Plotly.newPlot(target, fig.data, fig.layout, { responsive: true, displaylogo: false });
  }
}

function runCharts() {
  return Array.from(document.querySelectorAll(".charts .chart")).filter((el) => el.data);
}

function smooth(values, weight) {
  let last = null;
  return values.map((v) => {
    if (v === null || v === undefined) return v;
    last = last === null ? v : last * weight + (1 - weight) * v;
    return last;
  });
}

function wireChartTools() {
  const log = document.getElementById("log-scale");
  if (log) {
    log.addEventListener("change", () => {
      for (const el of runCharts()) Plotly.relayout(el, { "yaxis.type": log.checked ? "log" : "linear" });
    });
  }
  const smoothing = document.getElementById("smoothing");
  if (smoothing) {
    smoothing.addEventListener("input", () => {
      const weight = Number(smoothing.value);
      for (const el of runCharts()) {
        const ys = (originals.get(el.id) || []).map((y) => (y ? smooth(y, weight) : y));
        Plotly.restyle(el, { y: ys });
      }
    });
  }
}

function collapse(runId) {
  for (const row of document.querySelectorAll(`tr[data-parent="${CSS.escape(runId)}"]`)) {
    collapse(row.dataset.run);
    row.remove();
  }
}

async function toggleChildren(button) {
  const row = button.closest("tr");
  const runId = row.dataset.run;
  if (button.getAttribute("aria-expanded") === "true") {
    collapse(runId);
    button.setAttribute("aria-expanded", "false");
    button.textContent = "▸";
    return;
  }
  const response = await fetch(button.dataset.children, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const holder = document.createElement("tbody");
  holder.innerHTML = await response.text(); // server-rendered rows, every value escaped
  let after = row;
  for (const child of Array.from(holder.querySelectorAll("tr"))) {
    child.dataset.parent = runId;
    child.style.setProperty("--depth", String(Number(row.style.getPropertyValue("--depth") || 0) + 1));
    after.after(child);
    after = child;
  }
  button.setAttribute("aria-expanded", "true");
  button.textContent = "▾";
}

function wireRunsTable() {
  const table = document.getElementById("runs");
  if (table) {
    table.addEventListener("click", (event) => {
      const button = event.target.closest("button.expand");
      if (button) toggleChildren(button);
    });
  }
  const filter = document.getElementById("filter");
  if (filter && filter.dataset.column) {
    const col = Number(filter.dataset.column) - 1;
    filter.focus();
    filter.setSelectionRange(col, col + 1);
  }
  const columns = document.getElementById("columns-form");
  if (columns) {
    columns.addEventListener("submit", () => {
      const chosen = Array.from(columns.querySelectorAll(".col-choice:checked")).map((c) => c.value);
      const extra = columns.querySelector(".col-extra").value.trim();
      if (extra) chosen.push(extra);
      document.getElementById("cols-joined").value = chosen.join(",");
    });
  }
  const form = document.getElementById("runs-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      if (form.querySelectorAll('input[name="runs"]:checked').length < 2) {
        event.preventDefault();
        alert("Select at least two runs to compare.");
      }
    });
  }
}

// A running sweep's page asks every few seconds for what changed since its last answer:
// changed trial rows replace theirs (or are added), the counts are redrawn, and newly
// finished trials extend the history chart. Once the sweep ends, the page reloads once
// for the final charts (importance, slices, best trial).
const LIVE_EVERY_MS = 5000;

function extendHistory(finished) {
  const chart = document.getElementById("history");
  if (!chart || !chart.data || typeof Plotly === "undefined") return;
  const [points, best] = chart.data;
  const seen = new Set(points.x);
  const fresh = finished.filter(([n, v]) => !seen.has(n) && v !== null).sort((a, b) => a[0] - b[0]);
  if (!fresh.length) return;
  const maximize = chart.closest("section").dataset.maximize === "1";
  let current = best.y.length ? best.y[best.y.length - 1] : null;
  const bestX = [];
  const bestY = [];
  for (const [n, v] of fresh) {
    if (current === null || (maximize ? v > current : v < current)) current = v;
    bestX.push(n);
    bestY.push(current);
  }
  Plotly.extendTraces(chart, { x: [fresh.map((f) => f[0]), bestX], y: [fresh.map((f) => f[1]), bestY] }, [0, 1]);
}

function applyUpdate(table, update) {
  document.getElementById("trial-counts").innerHTML = update.counts; // server-rendered, escaped
  const holder = document.createElement("tbody");
  holder.innerHTML = update.rows; // server-rendered rows, every value escaped
  const body = table.tBodies[0];
  for (const row of Array.from(holder.querySelectorAll("tr"))) {
    const old = body.querySelector(`tr[data-run="${CSS.escape(row.dataset.run)}"]`);
    if (old) old.replaceWith(row);
    else body.append(row);
  }
  extendHistory(update.finished);
}

function wireLiveSweep() {
  const table = document.getElementById("trials");
  if (!table || !table.dataset.live) return;
  let since = Number(table.dataset.since);
  const poll = async () => {
    try {
      const response = await fetch(`${table.dataset.live}?since=${since}`, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const update = await response.json();
        applyUpdate(table, update);
        since = update.now;
        table.dataset.since = String(since);
        if (update.status !== "RUNNING") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // the server restarting: try again at the next tick
    }
    setTimeout(poll, LIVE_EVERY_MS);
  };
  setTimeout(poll, LIVE_EVERY_MS);
}

drawFigures();
wireChartTools();
wireRunsTable();
wireLiveSweep();

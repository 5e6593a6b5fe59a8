// Charts for run and compare pages. Data comes in <script type="application/json"> blocks
// (never executed), so the page works under a strict Content-Security-Policy.
"use strict";

const LAYOUT = { margin: { t: 36, r: 16, b: 40, l: 56 }, height: 260, legend: { orientation: "h" } };
const CONFIG = { displaylogo: false, responsive: true };

function readJSON(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

function line(x, y, name, extra) {
  return Object.assign({ x: x, y: y, name: name, type: "scatter", mode: "lines" }, extra || {});
}

function drawRun(data) {
  const s = data.series;
  const x = s.t;
  const axis = (title) => ({ title: { text: title } });
  Plotly.react("chart-rps", [line(x, s.rps, "req/s"), line(x, s.failures_per_s, "failures/s", { line: { color: "#c0392b" } })],
    Object.assign({}, LAYOUT, { title: { text: "Requests and failures per second" }, xaxis: axis("seconds"), yaxis: axis("per second") }), CONFIG);
  Plotly.react("chart-latency", [line(x, s.p50_ms, "p50"), line(x, s.p95_ms, "p95"), line(x, s.p99_ms, "p99")],
    Object.assign({}, LAYOUT, { title: { text: "Response time (ms)" }, xaxis: axis("seconds"), yaxis: axis("ms") }), CONFIG);
  Plotly.react("chart-users", [line(x, s.users, "users", { line: { shape: "hv" } })],
    Object.assign({}, LAYOUT, { title: { text: "Active users" }, xaxis: axis("seconds"), yaxis: axis("users") }), CONFIG);
}

function setText(parent, selector, text) {
  const el = parent.querySelector(selector);
  if (el) el.textContent = text;
}

function fmt(n, digits) { return Number(n).toFixed(digits); }

function refreshRun(data) {
  // A running run: poll the API and redraw, building the table from text only.
  fetch("/api/runs/" + data.id).then((r) => r.json()).then((run) => {
    drawRun(run);
    const summary = document.getElementById("summary");
    setText(summary, "[data-key=duration_s]", fmt(run.duration_s, 0) + " s");
    setText(summary, "[data-key=requests]", String(run.total.requests));
    setText(summary, "[data-key=failures]", run.total.failures + " (" + fmt(run.total.error_pct, 2) + "%)");
    setText(summary, "[data-key=rps]", fmt(run.total.rps, 1));
    setText(summary, "[data-key=latency]", [run.total.p50_ms, run.total.p95_ms, run.total.p99_ms].map((v) => fmt(v, 1)).join(" / ") + " ms");
    const body = document.querySelector("#endpoints tbody");
    body.replaceChildren(...run.endpoints.concat([run.total]).map((e, i, all) => {
      const tr = document.createElement("tr");
      if (i === all.length - 1) tr.className = "total";
      [e.name, e.requests, e.failures, fmt(e.p50_ms, 1), fmt(e.p90_ms, 1), fmt(e.p95_ms, 1), fmt(e.p99_ms, 1), fmt(e.max_ms, 1), e.avg_size, fmt(e.rps, 1), e.deviations]
        .forEach((v) => { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
      return tr;
    }));
    document.getElementById("status").textContent = run.status;
    if (run.status === "running") setTimeout(() => refreshRun(data), 2000);
  });
}

function drawCompare(data) {
  const latency = [], rps = [];
  data.runs.forEach((id, i) => {
    const s = data.series[id];
    const name = "run " + id + (data.labels[i] ? " (" + data.labels[i] + ")" : "");
    latency.push(line(s.t, s.p95_ms, name + " p95"));
    rps.push(line(s.t, s.rps, name));
  });
  Plotly.react("chart-compare-latency", latency, Object.assign({}, LAYOUT, { title: { text: "p95 response time (ms) over elapsed time" }, xaxis: { title: { text: "seconds since start" } } }), CONFIG);
  Plotly.react("chart-compare-rps", rps, Object.assign({}, LAYOUT, { title: { text: "Requests per second over elapsed time" }, xaxis: { title: { text: "seconds since start" } } }), CONFIG);
}

window.addEventListener("DOMContentLoaded", () => {
  const run = readJSON("run-data");
  if (run) {
    drawRun(run);
    if (run.status === "running") setTimeout(() => refreshRun(run), 2000);
  }
  const compare = readJSON("compare-data");
  if (compare) drawCompare(compare);
});

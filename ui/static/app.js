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
  const users = [line(x, s.users, "users", { line: { shape: "hv" } })];
  if (s.target_users && s.target_users.some((v) => v !== null)) users.push(line(x, s.target_users, "asked for", { line: { shape: "hv", dash: "dot" } }));
  Plotly.react("chart-users", users,
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
    const now = run.series.users.filter((u) => u !== null);
    if (run.status === "running" && now.length) setText(summary, "[data-key=users-now]", now[now.length - 1] + " now, " + run.users + " at the start");
    setText(summary, "[data-key=requests]", String(run.total.requests));
    setText(summary, "[data-key=failures]", run.total.failures + " (" + fmt(run.total.error_pct, 2) + "%)");
    setText(summary, "[data-key=rps]", fmt(run.total.rps, 1));
    setText(summary, "[data-key=latency]", [run.total.p50_ms, run.total.p95_ms, run.total.p99_ms].map((v) => fmt(v, 1)).join(" / ") + " ms");
    const body = document.querySelector("#endpoints tbody");
    body.replaceChildren(...run.endpoints.concat([run.total]).map((e, i, all) => {
      const tr = document.createElement("tr");
      tr.className = (i === all.length - 1 ? "total" : "") + (e.failures ? " failing" : "");
      return cells(tr, [e.name, e.requests, e.failures, fmt(e.p50_ms, 1), fmt(e.p90_ms, 1), fmt(e.p95_ms, 1), fmt(e.p99_ms, 1), fmt(e.max_ms, 1), e.avg_size, fmt(e.rps, 1), e.deviations]);
    }));
    fillErrors(run.errors);
    if (run.kind === "capacity" && document.getElementById("chart-capacity-rps")) {
      drawCapacity({ steps: run.steps, answer: run.answer, unit: readJSON("capacity-data").unit });
    }
    document.getElementById("status").textContent = run.status;
    // Once it ends, the page as rendered for an ended run: its answer, no controls.
    if (run.status === "running") setTimeout(() => refreshRun(data), 2000);
    else location.reload();
  });
}

function cells(tr, values) {
  values.forEach((v) => { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
  return tr;
}

function fillErrors(errors) {
  const table = document.getElementById("errors");
  if (!table) return;
  table.hidden = errors.length === 0;
  const none = document.getElementById("no-errors");
  if (none) none.hidden = errors.length > 0;
  table.querySelector("tbody").replaceChildren(...errors.map((e) => cells(document.createElement("tr"), [e.endpoint, e.kind, e.count, e.sample])));
}

function refreshRuns() {
  // The runs list while some run is going: their numbers, from text only; a run that ended reloads the list.
  fetch("/api/runs?status=running").then((r) => r.json()).then((running) => {
    const live = new Map(running.map((r) => [String(r.id), r]));
    let ended = false;
    document.querySelectorAll("#runs tbody tr.running").forEach((tr) => {
      const r = live.get(tr.dataset.run);
      if (!r) { ended = true; return; }
      setText(tr, "[data-key=duration_s]", fmt(r.duration_s, 0));
      setText(tr, "[data-key=requests]", String(r.requests));
      setText(tr, "[data-key=error_pct]", fmt(r.error_pct, 2));
      setText(tr, "[data-key=p95_ms]", fmt(r.p95_ms, 1));
      setText(tr, "[data-key=rps]", fmt(r.rps, 1));
    });
    if (ended || running.length > document.querySelectorAll("#runs tbody tr.running").length) location.reload();
    else setTimeout(refreshRuns, 3000);
  });
}

function showFor(form) {
  // The New run form shows the fields of the chosen kind (run or capacity search) and load.
  const kind = form.querySelector("input[name=kind]:checked").value;
  const stages = form.querySelector("input[name=load][value=stages]");
  if (kind === "capacity" && stages.checked) form.querySelector("input[name=load][value=users]").checked = true;
  const key = kind + ":" + form.querySelector("input[name=load]:checked").value;
  form.querySelectorAll("[data-show]").forEach((el) => {
    el.hidden = !el.dataset.show.split(" ").some((p) => p === key || p === kind + ":*");
  });
}

function marker(x, text) {
  // A vertical line at x across the chart, labelled: the knee, an SLO's limit.
  return {
    shape: { type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { dash: "dash", width: 1, color: "#555" } },
    note: { x: x, yref: "paper", y: 1, text: text, showarrow: false, xanchor: "left", font: { size: 11 } },
  };
}

function drawCapacity(data) {
  const steps = data.steps.slice().sort((a, b) => a.users - b.users);
  const x = steps.map((s) => s.users);
  const a = data.answer;
  const marks = [];
  if (a && a.knee_users !== null) marks.push(marker(a.knee_users, "knee " + a.knee_users));
  if (a) Object.entries(a.max_users_within_slo).forEach(([text, v]) => marks.push(marker(v, text + " up to " + v)));
  const failMarks = a ? [marker(a.max_users_without_failures, "no failures up to " + a.max_users_without_failures)] : [];
  const axis = (title) => ({ title: { text: title } });
  const xaxis = axis("load (" + data.unit.trim() + ")");
  const layout = (title, y, ms) => Object.assign({}, LAYOUT, {
    title: { text: title }, xaxis: xaxis, yaxis: axis(y),
    shapes: ms.map((m) => m.shape), annotations: ms.map((m) => m.note) });
  const points = { mode: "lines+markers" };
  Plotly.react("chart-capacity-rps", [line(x, steps.map((s) => s.rps), "req/s", points)],
    layout("Throughput against load", "req/s", marks), CONFIG);
  const names = [...new Set(steps.flatMap((s) => s.endpoints.map((e) => e.name)))];
  const perEndpoint = names.map((name) => {
    const ys = steps.map((s) => { const e = s.endpoints.find((e) => e.name === name); return e ? e.p95_ms : null; });
    return line(x, ys, name, points);
  });
  Plotly.react("chart-capacity-latency", perEndpoint, layout("p95 per endpoint against load", "ms", marks), CONFIG);
  Plotly.react("chart-capacity-failures",
    [line(x, steps.map((s) => (s.requests ? 100 * s.failures / s.requests : 0)), "failed %", Object.assign({ line: { color: "#c0392b" } }, points))],
    layout("Failed requests against load", "% of requests", failMarks), CONFIG);
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
  const capacity = readJSON("capacity-data");
  if (capacity) drawCapacity(capacity);
  const compare = readJSON("compare-data");
  if (compare) drawCompare(compare);
  if (document.querySelector("#runs tbody tr.running")) setTimeout(refreshRuns, 3000);
  const form = document.getElementById("new-run");
  if (form) {
    form.addEventListener("change", () => showFor(form));
    showFor(form);
  }
});

"use strict";
// The job page: charts of every metric, live from the job's event stream (drawn at most once
// per animation frame), the log tail, status, progress, checkpoints, and the predict form.
(() => {
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const base = `/ui/api/v1/jobs/${encodeURIComponent(jobId)}`;
  const MAX_POINTS = 1000;
  const REFETCH_AFTER = 3 * MAX_POINTS;  // live points appended before the overview is refetched
  const prefs = Charts.loadPrefs();
  const chartsEl = document.getElementById("charts");
  const chartsStatus = document.getElementById("charts-status");
  const state = { series: new Map(), charts: new Map(), marks: [], axis: null, pending: new Set(), frame: 0, live: 0 };

  // ------------------------------------------------------------------ metric history
  function seriesKey(name, stage) { return name + "\u0000" + stage; }

  function label(name, stage) {
    const stages = [...state.series.values()].filter((s) => s.name === name).length;
    return stages > 1 ? `${name} (${stage})` : name;
  }

  function historyUrl(names, stepMin, stepMax) {
    const params = new URLSearchParams({ max_points: String(MAX_POINTS) });
    for (const name of names || []) params.append("name", name);
    if (stepMin != null) params.set("step_min", String(stepMin));
    if (stepMax != null) params.set("step_max", String(stepMax));
    return `${base}/metrics?${params}`;
  }

  function ensureSeries(name, stage) {
    const key = seriesKey(name, stage);
    let s = state.series.get(key);
    if (!s) {
      s = new Charts.Series(key, name);
      s.name = name; s.stage = stage; s.stem = Charts.stemOf(name);
      state.series.set(key, s);
      for (const other of state.series.values()) other.label = label(other.name, other.stage);
    }
    return s;
  }

  function applyHistory(history) {
    const touched = new Set();
    for (const item of history.series) {
      const s = ensureSeries(item.name, item.stage);
      s.setBuckets(item.buckets, item.bucket_steps);
      touched.add(s.stem);
    }
    return touched;
  }

  async function loadMarks() {
    if (prefs.x === "step") return;
    const { ok, data } = await TY.api(`/ui/api/jobs/${encodeURIComponent(jobId)}/marks`);
    if (ok) state.marks = data.marks;
  }

  // ------------------------------------------------------------------ charts
  function chartOptions() {
    return { prefs, axis: state.axis, onZoom: zoom, onReset: resetZoom };
  }

  function stemSeries(stem) {
    return [...state.series.values()].filter((s) => s.stem === stem)
      .sort((a, b) => (a.name + a.stage).localeCompare(b.name + b.stage));
  }

  function buildCharts() {
    state.axis = new Charts.Axis(prefs.x, state.marks);
    for (const chart of state.charts.values()) chart.destroy();
    state.charts.clear();
    const stems = [...new Set([...state.series.values()].map((s) => s.stem))].sort();
    for (const stem of stems) state.charts.set(stem, new Charts.MetricChart(chartsEl, stem, stemSeries(stem), chartOptions()));
    chartsStatus.textContent = stems.length ? "" : "No metrics logged yet.";
  }

  async function zoom(chart, stepMin, stepMax) {
    const names = [...new Set(chart.series.map((s) => s.name))];
    const { ok, data } = await TY.api(historyUrl(names, stepMin, stepMax));
    if (!ok || !chart.zoomed) return;
    applyHistory(data);
    chart.card.dataset.zoomRange = `${stepMin}-${stepMax}`;
    chart.refresh();
  }

  async function resetZoom(chart) {
    const names = [...new Set(chart.series.map((s) => s.name))];
    const { ok, data } = await TY.api(historyUrl(names));
    if (!ok) return;
    applyHistory(data);
    delete chart.card.dataset.zoomRange;
    chart.refresh();
  }

  async function reloadAll() {
    const { ok, data } = await TY.api(historyUrl());
    if (!ok) { chartsStatus.textContent = "Could not load the metrics."; return; }
    applyHistory(data);
    state.live = 0;
    buildCharts();
  }

  // ------------------------------------------------------------------ live events
  function onMetric(point) {
    if (point.value == null) return;
    const known = state.series.has(seriesKey(point.name, point.stage));
    const s = ensureSeries(point.name, point.stage);
    s.upsert(point.step, point.value);
    if (prefs.x !== "step") {
      const last = state.marks[state.marks.length - 1];
      if (!last || point.step > last[0]) state.marks.push([point.step, point.epoch, Date.now() / 1000]);
    }
    state.live += 1;
    if (!known || !state.charts.has(s.stem)) state.pending.add("*rebuild*");
    else state.pending.add(s.stem);
    schedule();
  }

  function schedule() {
    if (!state.frame) state.frame = requestAnimationFrame(flush);
  }

  function flush() {
    state.frame = 0;
    if (state.pending.has("*rebuild*")) buildCharts();
    else for (const stem of state.pending) { const chart = state.charts.get(stem); if (chart) chart.refresh(); }
    state.pending.clear();
    if (state.live > REFETCH_AFTER) reloadAll();
  }

  const statusEl = document.getElementById("job-status");
  const progressBar = document.getElementById("job-progress");
  const progressText = document.getElementById("job-progress-text");
  const logEl = document.getElementById("log-tail");
  const follow = document.getElementById("follow-log");

  function onStatus(data) {
    TY.setStatus(statusEl, data.to);
    root.dataset.status = data.to;
    const cancel = document.getElementById("cancel-form");
    if (cancel && !["queued", "running"].includes(data.to)) cancel.hidden = true;
  }

  function onProgress(p) {
    TY.setProgress(progressBar, p);
    let text = TY.progressText(p) || "no progress reported yet";
    if (p.samples_per_s) text += ` · ${TY.number(p.samples_per_s)} samples/s`;
    progressText.textContent = text;
  }

  function onLog(data) {
    const line = TY.element("span", { class: "log-" + String(data.stream || "") }, String(data.line ?? "") + "\n");
    logEl.append(line);
    while (logEl.childNodes.length > 2000) logEl.firstChild.remove();
    if (follow.checked) logEl.scrollTop = logEl.scrollHeight;
  }

  async function refreshCheckpoints() {
    const { ok, data } = await TY.api(`${base}/checkpoints`);
    if (!ok) return;
    const body = document.querySelector("#checkpoints-table tbody");
    body.textContent = "";
    for (const c of data.items) {
      const row = TY.element("tr", { "data-checkpoint-id": c.id });
      const cells = [c.kind, c.step, c.epoch, c.monitor ? `${c.monitor} = ${TY.number(c.monitor_value)}` : "",
        c.is_best ? "best" : "", `${c.size} B`, new Date(c.created_at).toISOString().replace("T", " ").slice(0, 19) + " UTC"];
      for (const value of cells) row.append(TY.element("td", {}, String(value)));
      const link = TY.element("a", { href: "/ui/api" + c.download_url, download: "" }, "Download");
      const cell = TY.element("td"); cell.append(link); row.append(cell);
      body.append(row);
    }
  }

  function openStream() {
    const source = new EventSource(`/ui/jobs/${encodeURIComponent(jobId)}/events?since=${root.dataset.since}`);
    const parse = (e) => { try { return JSON.parse(e.data); } catch (err) { return null; } };
    source.addEventListener("metric", (e) => { const d = parse(e); if (d) onMetric(d); });
    source.addEventListener("progress", (e) => { const d = parse(e); if (d) onProgress(d); });
    source.addEventListener("status", (e) => { const d = parse(e); if (d) onStatus(d); });
    source.addEventListener("log", (e) => { const d = parse(e); if (d) onLog(d); });
    source.addEventListener("checkpoint", () => { refreshCheckpoints(); });
    source.addEventListener("end", () => { source.close(); root.dataset.streamEnded = "true"; refreshCheckpoints(); });
    state.source = source;  // the browser reconnects by itself, sending Last-Event-ID
  }

  // ------------------------------------------------------------------ predict
  function bindPredict() {
    const form = document.getElementById("predict-form");
    if (!form) return;
    const width = Number(form.dataset.width);
    const errorEl = document.getElementById("predict-error");
    const output = document.getElementById("predict-output");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errorEl.hidden = true; output.textContent = "";
      const lines = document.getElementById("predict-inputs").value.split("\n").map((l) => l.trim()).filter(Boolean);
      const inputs = lines.map((l) => l.split(/[\s,]+/).filter(Boolean).map(Number));
      const bad = inputs.findIndex((row) => row.length !== width || row.some((v) => !isFinite(v)));
      if (!inputs.length || bad >= 0) {
        errorEl.textContent = `Line ${bad + 1}: give ${width} numbers.`;
        errorEl.hidden = false;
        return;
      }
      const checkpoint = document.getElementById("predict-checkpoint").value;
      const { ok, data } = await TY.api(`${base}/predict`, { method: "POST", body: { inputs, checkpoint } });
      if (!ok) { errorEl.textContent = data ? data.detail : "Prediction failed."; errorEl.hidden = false; return; }
      output.textContent = JSON.stringify(data.outputs, null, 1);
    });
  }

  // ------------------------------------------------------------------ start
  Charts.bindControls(prefs, async () => {
    await loadMarks();
    buildCharts();
  });
  document.getElementById("reset-zoom").addEventListener("click", () => {
    for (const chart of state.charts.values()) if (chart.zoomed) chart.resetZoom();
  });
  window.addEventListener("resize", () => { for (const chart of state.charts.values()) chart.resize(); });
  if (follow.checked) logEl.scrollTop = logEl.scrollHeight;
  bindPredict();
  Promise.all([reloadAll(), loadMarks()]).then(() => {
    if (prefs.x !== "step") buildCharts();
    if (!TY.TERMINAL.has(root.dataset.status)) openStream();
  });
  window.trainyardJob = state;  // for the browser tests and the speed bench
})();

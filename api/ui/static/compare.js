"use strict";
// Compare: one metric of several jobs on one chart, a colour legend, hover to highlight a run.
(() => {
  const holder = document.getElementById("compare-chart");
  if (!holder) return;
  const metric = holder.dataset.metric;
  const status = document.getElementById("charts-status");
  const prefs = { ...Charts.loadPrefs(), x: "step" };  // runs align on steps
  const jobs = [...holder.querySelectorAll("[data-job-id]")].map((el) => ({ id: el.dataset.jobId, label: el.dataset.label }));
  let chart = null;
  let series = [];

  async function load(job, stepMin, stepMax) {
    const params = new URLSearchParams({ name: metric, max_points: "1000" });
    if (stepMin != null) { params.set("step_min", String(stepMin)); params.set("step_max", String(stepMax)); }
    const { ok, data } = await TY.api(`/ui/api/v1/jobs/${encodeURIComponent(job.id)}/metrics?${params}`);
    const s = new Charts.Series(job.id, job.label);
    if (ok && data.series.length) {
      // The stage with the most points, when the name was logged in several.
      const best = data.series.reduce((a, b) => (b.count > a.count ? b : a));
      s.setBuckets(best.buckets, best.bucket_steps);
    }
    return s;
  }

  async function loadAll(stepMin, stepMax) {
    series = await Promise.all(jobs.map((job) => load(job, stepMin, stepMax)));
  }

  function build() {
    if (chart) chart.destroy();
    chart = new Charts.MetricChart(holder, metric, series, {
      prefs, axis: new Charts.Axis("step", []), height: 360,
      onZoom: async (c, lo, hi) => { await loadAll(lo, hi); c.series = series; c.refresh(); },
      onReset: async (c) => { await loadAll(); c.series = series; c.refresh(); },
    });
    status.textContent = series.some((s) => s.steps.length) ? "" : `No job has logged ${metric} yet.`;
  }

  Charts.bindControls(prefs, () => build());
  loadAll().then(build);
  window.addEventListener("resize", () => { if (chart) chart.resize(); });
})();

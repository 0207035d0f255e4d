"use strict";
// Metric charts on uPlot (canvas): one chart per metric stem, train/val overlaid; TensorBoard's
// EMA smoothing; outliers ignored when autoscaling; a min/max band from the server's buckets;
// drag to zoom (the caller refetches that range at full resolution); log y; step, epoch or time x.
const Charts = (() => {
  const PREF_KEY = "trainyard.charts.v1";
  const DEFAULTS = { x: "step", logY: false, smooth: true, weight: 0.6, clip: true };
  const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a7ea4",
    "#d1242f", "#57606a", "#e16f24", "#116329"];
  const STAGE_PREFIX = /^(train|training|val|valid|validation|test)[_/.-]/i;
  const STEP_INCREMENTS = [];
  for (let scale = 1; scale <= 1e15; scale *= 10) STEP_INCREMENTS.push(scale, 2 * scale, 5 * scale);

  function loadPrefs() {
    try { return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(PREF_KEY) || "{}") }; }
    catch (e) { return { ...DEFAULTS }; }
  }
  function savePrefs(prefs) {
    try { localStorage.setItem(PREF_KEY, JSON.stringify(prefs)); } catch (e) { /* private mode */ }
  }

  // "train_loss", "val_loss", "loss_epoch" -> "loss": the series one chart overlays.
  function stemOf(name) {
    const stem = name.replace(STAGE_PREFIX, "").replace(/_(step|epoch)$/, "");
    return stem || name;
  }

  // TensorBoard's smoothing: an exponential moving average with debiasing, non-finite kept.
  function ema(values, weight) {
    const out = new Array(values.length);
    let last = 0, count = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v == null || !isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v;
      count += 1;
      out[i] = weight >= 1 ? v : last / (1 - Math.pow(weight, count));
    }
    return out;
  }

  function quantile(sorted, q) {
    if (!sorted.length) return null;
    const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  // One metric series: steps ascending, the line value (bucket mean, or the point), min and max.
  class Series {
    constructor(key, label) {
      this.key = key; this.label = label;
      this.steps = []; this.values = []; this.lows = []; this.highs = [];
      this.bucketSteps = 1;
    }
    setBuckets(buckets, bucketSteps) {
      this.bucketSteps = bucketSteps;
      this.steps = buckets.map((b) => (b.step_min === b.step_max ? b.step_max : Math.round((b.step_min + b.step_max) / 2)));
      this.values = buckets.map((b) => b.mean);
      this.lows = buckets.map((b) => b.min);
      this.highs = buckets.map((b) => b.max);
    }
    // A live point. The step's latest value wins (a resumed attempt replaces, never zig-zags).
    upsert(step, value) {
      const n = this.steps.length;
      if (!n || step > this.steps[n - 1]) {
        this.steps.push(step); this.values.push(value); this.lows.push(value); this.highs.push(value);
        return;
      }
      let lo = 0, hi = n;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (this.steps[mid] < step) lo = mid + 1; else hi = mid; }
      if (this.steps[lo] === step) {
        this.values[lo] = value; this.lows[lo] = value; this.highs[lo] = value;
      } else {
        this.steps.splice(lo, 0, step); this.values.splice(lo, 0, value);
        this.lows.splice(lo, 0, value); this.highs.splice(lo, 0, value);
      }
    }
    get hasBand() { return this.bucketSteps > 1; }
  }

  // Step -> epoch / time by interpolating the server's marks [[step, epoch, unix], ...].
  class Axis {
    constructor(mode, marks) { this.mode = mode; this.marks = marks || []; }
    column() { return this.mode === "epoch" ? 1 : 2; }
    toX(step) {
      if (this.mode === "step" || this.marks.length === 0) return step;
      const m = this.marks, col = this.column();
      let value;
      if (step <= m[0][0]) value = m[0][col];
      else if (step >= m[m.length - 1][0]) value = m[m.length - 1][col];
      else {
        let lo = 0, hi = m.length - 1;
        while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (m[mid][0] <= step) lo = mid; else hi = mid; }
        const span = m[hi][0] - m[lo][0];
        value = m[lo][col] + (span ? (m[hi][col] - m[lo][col]) * (step - m[lo][0]) / span : 0);
      }
      return this.mode === "relative" ? value - m[0][2] : value;
    }
    toStep(x) {  // the inverse, for asking the server for a zoomed range
      if (this.mode === "step" || this.marks.length === 0) return x;
      const m = this.marks, col = this.column();
      const target = this.mode === "relative" ? x + m[0][2] : x;
      if (target <= m[0][col]) return m[0][0];
      for (let i = 1; i < m.length; i++) {
        if (m[i][col] >= target) {
          const span = m[i][col] - m[i - 1][col];
          return m[i - 1][0] + (span ? (m[i][0] - m[i - 1][0]) * (target - m[i - 1][col]) / span : 0);
        }
      }
      return m[m.length - 1][0];
    }
    label() {
      return { step: "step", epoch: "epoch", relative: "time since start", wall: "time" }[this.mode];
    }
    format(value) {
      if (value == null) return "—";
      if (this.mode === "relative") return TY.duration(value);
      if (this.mode === "wall") return new Date(value * 1000).toLocaleString();
      if (this.mode === "epoch") return value.toFixed(2);
      return String(Math.round(value));
    }
  }

  // Align several series on one x array (uPlot's data layout), smoothed when asked.
  function align(seriesList, axis, prefs) {
    const xs = new Set();
    for (const s of seriesList) for (const step of s.steps) xs.add(step);
    const steps = [...xs].sort((a, b) => a - b);
    const index = new Map(steps.map((step, i) => [step, i]));
    const positive = (v) => (prefs.logY && !(v > 0) ? null : v);
    const columns = [steps.map((step) => axis.toX(step))];
    for (const s of seriesList) {
      const raw = new Array(steps.length).fill(null);
      const low = new Array(steps.length).fill(null);
      const high = new Array(steps.length).fill(null);
      s.steps.forEach((step, i) => {
        const at = index.get(step);
        raw[at] = positive(s.values[i]); low[at] = positive(s.lows[i]); high[at] = positive(s.highs[i]);
      });
      if (prefs.smooth) columns.push(denseEma(raw, prefs.weight));
      columns.push(raw);
      if (s.hasBand) columns.push(high, low);
    }
    return columns;
  }

  function denseEma(column, weight) {  // smooth the series' own points, keep its gaps
    const at = [], values = [];
    column.forEach((v, i) => { if (v != null) { at.push(i); values.push(v); } });
    const smoothed = ema(values, weight);
    const out = new Array(column.length).fill(null);
    at.forEach((i, k) => { out[i] = smoothed[k]; });
    return out;
  }

  class MetricChart {
    constructor(container, title, seriesList, options) {
      this.container = container; this.title = title; this.series = seriesList;
      this.options = options;  // {prefs, axis, onZoom(stepMin, stepMax), onReset(), height}
      this.zoomed = false; this.plot = null; this.dirty = false; this.drawn = false;
      this.card = TY.element("figure", { class: "chart-card", "data-stem": title });
      this.card.append(TY.element("h3", {}, title));
      this.holder = TY.element("div", { class: "chart", role: "img", "aria-label": `Chart of ${title}` });
      this.card.append(this.holder);
      container.append(this.card);
      this.build();
    }

    lineSeries() {  // uPlot series options, in the order align() lays out the columns
      const { prefs } = this.options;
      const out = [];
      const bands = [];
      this.series.forEach((s, i) => {
        const color = COLORS[i % COLORS.length];
        const value = (u, v) => (v == null ? "—" : TY.number(v));
        if (prefs.smooth) out.push({ label: s.label, stroke: color, width: 2, value, spanGaps: true, points: { show: false } });
        out.push({
          label: prefs.smooth ? `${s.label} (raw)` : s.label, stroke: color,
          width: prefs.smooth ? 1 : 1.5, alpha: prefs.smooth ? 0.3 : 1, value, spanGaps: true,
          points: { show: (u, si, i0, i1) => i1 - i0 < 60 },
        });
        if (s.hasBand) {
          const hiIdx = out.length + 1;
          out.push({ label: `${s.label} max`, class: "band-series", stroke: "transparent", width: 0, points: { show: false }, value, spanGaps: true });
          out.push({ label: `${s.label} min`, class: "band-series", stroke: "transparent", width: 0, points: { show: false }, value, spanGaps: true });
          bands.push({ series: [hiIdx, hiIdx + 1], fill: color + "22" });
        }
      });
      return { out, bands };
    }

    yRange() {
      const { prefs } = this.options;
      return (u, dataMin, dataMax) => {
        let lo = dataMin, hi = dataMax;
        if (prefs.clip) [lo, hi] = this.clippedExtent(u, lo, hi);
        if (lo == null || hi == null) return [0, 1];
        if (prefs.logY) return uPlot.rangeLog(Math.max(lo, 1e-300), Math.max(hi, 1e-300), 10, true);
        return uPlot.rangeNum(lo, hi, 0.1, true);
      };
    }

    // The 2nd..98th percentile of the visible line values: a spike does not flatten the rest.
    clippedExtent(u, fallbackLo, fallbackHi) {
      const xs = u.data[0];
      const xMin = u.scales.x.min ?? -Infinity, xMax = u.scales.x.max ?? Infinity;
      const values = [];
      for (let si = 1; si < u.series.length; si++) {
        if (u.series[si].class === "band-series") continue;
        const column = u.data[si];
        for (let i = 0; i < xs.length; i++) {
          const v = column[i];
          if (v != null && xs[i] >= xMin && xs[i] <= xMax) values.push(v);
        }
      }
      if (values.length < 20) return [fallbackLo, fallbackHi];
      values.sort((a, b) => a - b);
      return [quantile(values, 0.02), quantile(values, 0.98)];
    }

    build() {
      if (this.plot) this.plot.destroy();
      const { prefs, axis } = this.options;
      const { out, bands } = this.lineSeries();
      const width = Math.max(this.holder.clientWidth || this.container.clientWidth || 600, 280);
      const chart = this;
      const opts = {
        width, height: this.options.height || 260,
        scales: { x: { time: axis.mode === "wall" }, y: { distr: prefs.logY ? 3 : 1, range: this.yRange() } },
        axes: [
          {
            label: axis.label(),
            incrs: axis.mode === "step" ? STEP_INCREMENTS : undefined,  // whole steps only
            values: axis.mode === "wall" ? undefined : (u, splits) => splits.map((v) => axis.format(v)),
          },
          { size: 64, values: (u, splits) => splits.map((v) => TY.number(v)) },
        ],
        series: [{ label: axis.label(), value: (u, v) => axis.format(v) }, ...out],
        bands,
        cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 24 } },
        focus: { alpha: 0.3 },
        legend: { live: true },
        hooks: {
          setSelect: [(u) => { if (u.select.width > 4) chart.zoomTo(u); }],
          draw: [() => chart.afterDraw()],
        },
      };
      this.plot = new uPlot(opts, align(this.series, axis, prefs), this.holder);
      this.plot.over.addEventListener("dblclick", () => this.resetZoom());
      this.card.dataset.log = String(prefs.logY);
      this.card.dataset.smoothing = prefs.smooth ? String(prefs.weight) : "off";
      this.card.dataset.xAxis = axis.mode;
    }

    zoomTo(u) {
      const xMin = u.posToVal(u.select.left, "x"), xMax = u.posToVal(u.select.left + u.select.width, "x");
      const { axis } = this.options;
      this.zoomed = true;
      this.card.dataset.zoom = "on";
      this.options.onZoom(this, Math.max(0, Math.floor(axis.toStep(xMin))), Math.ceil(axis.toStep(xMax)));
    }

    resetZoom() {
      this.zoomed = false;
      this.card.dataset.zoom = "off";
      this.options.onReset(this);
    }

    afterDraw() {
      const points = this.series.reduce((sum, s) => sum + s.steps.length, 0);
      this.card.dataset.points = String(points);
      this.card.dataset.resolution = String(Math.max(1, ...this.series.map((s) => s.bucketSteps)));
      // For whoever measures the page (bench/ui_speed.py): a chart has just been drawn.
      this.card.dispatchEvent(new CustomEvent("chart-drawn", { bubbles: true, detail: { stem: this.title } }));
      if (!this.drawn) {
        this.drawn = true;
        if (!document.body.dataset.firstChartMs) document.body.dataset.firstChartMs = String(performance.now());
      }
    }

    // New data (live points or a refetch): redraw, keeping a zoomed view where it is.
    refresh() {
      const { axis, prefs } = this.options;
      this.plot.setData(align(this.series, axis, prefs), !this.zoomed);
    }

    resize() { this.plot.setSize({ width: Math.max(this.holder.clientWidth, 280), height: this.options.height || 260 }); }
    destroy() { this.plot.destroy(); this.card.remove(); }
  }

  // The chart option controls (shared by the job and compare pages); remembered in localStorage.
  function bindControls(prefs, onChange) {
    const byId = (id) => document.getElementById(id);
    const controls = {
      x: byId("x-axis"), logY: byId("log-y"), smooth: byId("smooth-on"),
      weight: byId("smooth-weight"), clip: byId("clip-outliers"),
    };
    const shown = byId("smooth-value");
    if (controls.x) controls.x.value = prefs.x;
    controls.logY.checked = prefs.logY; controls.smooth.checked = prefs.smooth;
    controls.weight.value = String(prefs.weight); controls.clip.checked = prefs.clip;
    shown.textContent = Number(prefs.weight).toFixed(2);
    controls.weight.disabled = !prefs.smooth;
    const read = () => {
      if (controls.x) prefs.x = controls.x.value;
      prefs.logY = controls.logY.checked; prefs.smooth = controls.smooth.checked;
      prefs.weight = Math.min(0.99, Math.max(0, Number(controls.weight.value)));
      prefs.clip = controls.clip.checked;
      shown.textContent = prefs.weight.toFixed(2);
      controls.weight.disabled = !prefs.smooth;
      savePrefs(controls.x ? prefs : { ...prefs, x: loadPrefs().x });  // compare has no x choice
      onChange(prefs);
    };
    for (const control of Object.values(controls)) if (control) control.addEventListener("change", read);
    controls.weight.addEventListener("input", () => { shown.textContent = Number(controls.weight.value).toFixed(2); });
  }

  return { loadPrefs, savePrefs, stemOf, ema, Series, Axis, MetricChart, bindControls, COLORS };
})();

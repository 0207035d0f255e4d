"use strict";
// Shared helpers of the dashboard pages. Every user string reaches the page through
// textContent or an attribute, never through innerHTML.
const TY = (() => {
  const STATUS_TEXT = {
    queued: "Queued", running: "Running", cancelling: "Cancelling",
    succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled",
  };
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function toLogin() {
    const here = location.pathname + location.search;
    location.assign("/ui/login?next=" + encodeURIComponent(here));
  }

  // JSON from the UI's data routes; state-changing requests carry the CSRF token.
  async function api(path, { method = "GET", body, headers = {} } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) toLogin();
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function setStatus(element, status) {
    element.className = "status status-" + status;
    element.dataset.status = status;
    element.textContent = STATUS_TEXT[status] || status;
  }

  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "";
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}h ${pad(m)}m` : `${m}m ${pad(s)}s`;
  }

  function progressText(p) {
    if (!p || p.step == null) return "";
    let text = "step " + p.step + (p.total ? " of " + p.total : "");
    if (p.epoch != null) text += " · epoch " + p.epoch;
    if (p.eta_s != null) text += " · ETA " + duration(p.eta_s);
    return text;
  }

  function percent(p) {
    if (!p || !Number.isInteger(p.step) || !Number.isInteger(p.total) || p.total <= 0) return null;
    return Math.min(100, (100 * p.step) / p.total);
  }

  function setProgress(bar, p) {
    const pct = percent(p);
    bar.value = pct == null ? 0 : pct;
  }

  function element(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value != null) node.setAttribute(key, value);
    }
    if (text != null) node.textContent = text;
    return node;
  }

  function number(value) {
    if (typeof value !== "number" || !isFinite(value)) return value == null ? "" : String(value);
    return Number(value.toPrecision(6)).toString();
  }

  return { STATUS_TEXT, TERMINAL, csrfToken, api, setStatus, duration, progressText, percent, setProgress, element, number };
})();

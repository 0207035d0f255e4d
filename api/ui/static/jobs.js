"use strict";
// Jobs table: status, progress and duration follow the jobs while the page is open (a poll of
// the same page of /v1/jobs every few seconds, only while the tab is visible).
(() => {
  const table = document.getElementById("jobs-table");
  if (!table) return;
  const POLL_MS = 3000;
  const note = document.getElementById("live-note");
  const params = new URLSearchParams(table.dataset.liveQuery);
  for (const [key, value] of [...params.entries()]) if (!value) params.delete(key);
  const firstPage = !params.has("cursor");

  function rowOf(id) {
    return table.querySelector(`tr[data-job-id="${CSS.escape(id)}"]`);
  }

  function update(row, job) {
    TY.setStatus(row.querySelector(".status"), job.status);
    TY.setProgress(row.querySelector("progress"), job.progress);
    row.querySelector(".progress-text").textContent = TY.progressText(job.progress);
    if (job.started_at) {
      const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
      row.querySelector(".duration").textContent = TY.duration((end - Date.parse(job.started_at)) / 1000);
    }
  }

  async function poll() {
    if (document.visibilityState !== "visible") return;
    const { ok, data } = await TY.api("/ui/api/v1/jobs?" + params.toString());
    if (!ok || !data) return;
    let unseen = 0;
    for (const job of data.items) {
      const row = rowOf(job.id);
      if (row) update(row, job);
      else unseen += 1;
    }
    if (firstPage && unseen) {
      note.textContent = "";
      note.append(`${unseen} new job${unseen > 1 ? "s" : ""}: `);
      note.append(TY.element("a", { href: location.pathname + location.search }, "reload"));
    }
  }

  setInterval(() => { poll().catch(() => {}); }, POLL_MS);
  document.addEventListener("visibilitychange", () => { poll().catch(() => {}); });
})();

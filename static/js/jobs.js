// My jobs: while a listed job is queued or running, its status badge and progress follow the API
// (GET /api/v1/distillations/, the same JobOutput the job page's figures come from) every few seconds.
(function () {
  "use strict";
  const EVERY_MS = 4000;
  const active = new Set(["queued", "running"]);
  const rows = new Map();
  document.querySelectorAll("#jobs-table tr[data-job-id]").forEach((row) => rows.set(row.dataset.jobId, row));

  function watched() {
    return Array.from(rows.values()).filter((row) => active.has(row.dataset.status));
  }

  function update(row, job) {
    row.dataset.status = job.status;
    const badge = row.querySelector(".badge");
    badge.textContent = job.status;
    badge.className = "badge badge-" + job.status;
    row.querySelector(".job-progress").textContent = Math.round(job.progress) + "%";
    const queue = row.querySelector(".queue-note");
    if (queue) {
      queue.hidden = job.queue_position === null;
      if (job.queue_position !== null) queue.textContent = "#" + job.queue_position + " in the queue";
    }
  }

  function poll() {
    if (!watched().length) return;  // nothing left to follow
    fetch("/api/v1/distillations/", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then((response) => (response.ok ? response.json() : []))
      .then((jobs) => jobs.forEach((job) => { const row = rows.get(job.job_id); if (row) update(row, job); }))
      .catch(() => {})  // a missed poll is retried by the next
      .finally(() => { if (watched().length) setTimeout(poll, EVERY_MS); });
  }
  if (watched().length) setTimeout(poll, EVERY_MS);
})();

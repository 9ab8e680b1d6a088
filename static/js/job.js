// The job page: follows an unfinished job's websocket from the seq the page was drawn at (replaying
// what it missed after a reconnect), updates the status, progress, stage timeline and log lines,
// feeds metric events to the chart, and adds each trial event of the search for the best student to
// the search's table and chart; a job that ends reloads the page, which then shows the result.
(function () {
  "use strict";
  const box = document.getElementById("job");
  const chart = document.getElementById("metrics-chart");
  const searchChart = document.getElementById("search-chart");
  const status = document.getElementById("status");
  const finished = new Set(["completed", "failed", "cancelled"]);
  const MAX_LINES = 50;
  let lastSeq = Number(box.dataset.lastSeq) || 0, ended = finished.has(box.dataset.status), submitting = false;
  // a form on its way (Cancel) leads to the page anew, with its message: a reload must not cut in
  document.addEventListener("submit", () => { submitting = true; });

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function setStatus(value) {
    status.textContent = value;
    status.className = "badge badge-" + value;
  }

  function seconds(value) {
    return value.toFixed(1) + " s";
  }

  function addLogLine(event) {
    const list = document.getElementById("events"), item = document.createElement("li");
    item.textContent = event.type + ": " + (event.message || event.stage || "");
    list.appendChild(item);
    while (list.children.length > MAX_LINES) list.removeChild(list.firstElementChild);
    const empty = document.getElementById("events-empty");
    if (empty) empty.hidden = true;
  }

  // A stage event closes the running stage (its seconds from the events' send times) and opens the next.
  function addStage(event) {
    const timeline = document.getElementById("timeline");
    if (!timeline || !event.stage || event.stage === "queued") return;
    const running = timeline.querySelector("li[data-state=running]");
    if (running) {
      running.dataset.state = "done";
      const started = Number(running.dataset.started);
      running.querySelector(".stage-seconds").textContent = started && event.sent_at ? seconds(Math.max(0, event.sent_at - started)) : "done";
    }
    const item = document.createElement("li"), name = document.createElement("span"), time = document.createElement("span");
    item.dataset.stage = event.stage;
    item.dataset.state = "running";
    if (event.sent_at) item.dataset.started = String(event.sent_at);
    name.className = "stage-name";
    name.textContent = event.stage;
    time.className = "stage-seconds";
    time.textContent = "running";
    item.append(name, " ", time);
    timeline.appendChild(item);
    const empty = document.getElementById("timeline-empty");
    if (empty) empty.hidden = true;
  }

  function cell(tag, text, label, numeric) {
    const el = document.createElement(tag);
    el.textContent = text;
    el.dataset.label = label;
    if (numeric) el.className = "num";
    return el;
  }

  // A trial's deploy checks on validation, as distillation/selectors.py trial_checks writes them.
  function checksText(gate) {
    if (!gate || typeof gate !== "object") return "";
    if (gate.passed) return " · deploy checks pass";
    return " · fails " + (gate.failed || []).map(function (name) { return String(name).replace(/_/g, " "); }).join(", ");
  }

  // A finished trial as a row of the search's table (templates/distillation/_search.html writes the same).
  function addTrial(trial) {
    const body = document.getElementById("search-trials");
    if (!body || !trial || typeof trial.number !== "number") return;
    const row = document.createElement("tr"), number = cell("th", String(trial.number + 1), "Trial", true);
    number.scope = "row";
    row.dataset.trial = String(trial.number);
    row.dataset.state = trial.state;
    const settings = window.PrsmCharts ? window.PrsmCharts.trialSettings(trial) : "";
    row.append(number, cell("td", trial.design, "Design"), cell("td", String(trial.params), "Parameters", true),
               cell("td", settings, "Settings"), cell("td", String(trial.epochs), "Epochs", true),
               cell("td", Number(trial.val_accuracy).toFixed(4), "Validation accuracy", true),
               cell("td", trial.state + checksText(trial.gate), "Result"));
    const old = body.querySelector("tr[data-trial='" + trial.number + "']");
    if (old) old.replaceWith(row); else body.appendChild(row);  // one row per trial, whatever arrives twice
    const empty = document.getElementById("search-empty");
    if (empty) empty.hidden = true;
  }

  function showProgress(event) {
    const bar = document.getElementById("progress");
    if (bar) bar.value = event.progress;
    setText("percent", Math.round(event.progress) + "%");
    setText("stage", event.current_stage);
    const eta = document.getElementById("eta"), duration = eta && Number(eta.dataset.duration);
    if (duration) {
      const left = duration * (1 - event.progress / 100);
      eta.textContent = "· " + (left < 60 ? "under a minute" : "about " + Math.round(left / 60) + " min") + " left";
    }
  }

  function show(event) {
    if (typeof event.seq !== "number" || event.seq <= lastSeq) return;  // replayed and live copies overlap
    lastSeq = event.seq;
    showProgress(event);
    if (event.type === "metric" && chart && window.PrsmCharts) window.PrsmCharts.append(chart, event);
    if (event.type === "trial") {
      addTrial(event.trial);
      if (searchChart && window.PrsmCharts) window.PrsmCharts.append(searchChart, event);
    }
    if (event.type === "stage") addStage(event);
    if (event.type === "stage" || event.type === "log" || finished.has(event.type)) addLogLine(event);
    if (finished.has(event.type)) {
      ended = true;
      setStatus(event.type);
      if (!submitting) window.location.reload();  // the page shows the result, or what happened and what it cost
    } else if (status.textContent.trim() === "queued" && event.current_stage !== "queued") {
      setStatus("running");
      const queue = document.getElementById("queue");
      if (queue) queue.hidden = true;
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(scheme + "://" + window.location.host + box.dataset.socketPath);
    socket.onopen = () => socket.send(JSON.stringify({since: lastSeq}));
    socket.onmessage = (message) => show(JSON.parse(message.data));
    socket.onclose = () => { if (!ended) setTimeout(connect, 2000); };  // reconnect and replay what was missed
  }
  if (!ended) connect();  // a finished job's page already shows all it did
})();

// The job page: follows the job's websocket (replaying from the last seq after a reconnect),
// updates the status, progress and event list, and feeds metric events to the chart.
(function () {
  "use strict";
  const box = document.getElementById("job");
  const chart = document.getElementById("metrics-chart");
  const status = document.getElementById("status");
  const finished = new Set(["completed", "failed", "cancelled"]);
  const loadedFinished = finished.has(status.textContent.trim());
  let lastSeq = 0, socket = null, ended = loadedFinished;

  function setStatus(value) {
    status.textContent = value;
    status.className = "badge badge-" + value;
  }

  function show(event) {
    if (event.seq <= lastSeq) return;  // replayed and live copies overlap
    lastSeq = event.seq;
    document.getElementById("progress").value = event.progress;
    document.getElementById("percent").textContent = Math.round(event.progress) + "%";
    document.getElementById("stage").textContent = event.current_stage;
    if (event.type === "metric" && chart && window.PrsmCharts) window.PrsmCharts.append(chart, event);
    if (event.type === "stage" || finished.has(event.type) || event.type === "log") {
      const item = document.createElement("li");
      item.textContent = event.type + ": " + (event.message || event.stage || "");
      document.getElementById("events").appendChild(item);
    }
    if (finished.has(event.type)) {
      ended = true;
      setStatus(event.type);
      if (event.type === "completed" && !loadedFinished) { window.location.reload(); }  // the page shows the result
      if (event.type === "failed") { const e = document.getElementById("error"); e.textContent = event.message; e.hidden = false; }
    } else if (!loadedFinished) {
      setStatus("running");
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(scheme + "://" + window.location.host + box.dataset.socketPath);
    socket.onopen = () => socket.send(JSON.stringify({since: lastSeq}));
    socket.onmessage = (message) => show(JSON.parse(message.data));
    socket.onclose = () => { if (!ended) setTimeout(connect, 2000); };  // reconnect and replay what was missed
  }
  connect();  // a finished job replays its history too
})();

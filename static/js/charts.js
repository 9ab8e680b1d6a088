// Shared chart helper: draws every chart container (templates/_partials/chart.html) from the JSON
// series its data-series-url returns, and appends live metric events to it.
//
// The JSON: {x_title, y_title, y2_title, series: [{key, name, axis, x, y}], references:
// [{key, name, axis, y}], last_seq}. A series' key names the metric in a metric event's
// "metrics"; last_seq is the newest metric event the series holds, so an event replayed by the
// websocket (seq <= last_seq) is not drawn twice and none that came in while loading is lost.
// A series may also be bars ("type": "bar", x the categories) or a heatmap ("type": "heatmap",
// with z rows over y); optional y_range and y_type ("log") set the value axis (the job's
// comparison charts, distillation.selectors.job_comparison_charts). Horizontal bars ("orientation": "h",
// x the values, y the categories) draw probabilities from 0 to 1; a container may carry its JSON in
// data-series instead of data-series-url ("try it", templates/serving/_try_it.html).
// A chart with "event_type": "trial" takes the job's trial events instead of metric events: a
// scatter of markers ("mode", "symbol", "size", hover "text"), one series per outcome (key
// "complete", "pruned" or "reference"), with x_type "log" and y_rangemode "normal" (the job's search,
// distillation.selectors.job_search_series).
(function () {
  "use strict";
  const state = new WeakMap();

  function trace(line) {
    if (line.type === "heatmap") {
      return {type: "heatmap", name: line.name, meta: line.key, x: line.x.slice(), y: line.y.slice(),
              z: line.z.map((row) => row.slice()), colorscale: "Blues", reversescale: true, texttemplate: "%{z}",
              hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>"};
    }
    if (line.type === "bar" && line.orientation === "h") {
      return {type: "bar", orientation: "h", name: line.name, meta: line.key, x: line.x.slice(), y: line.y.slice(),
              text: line.x.map((value) => (value >= 0.0005 ? (value * 100).toFixed(1) + "%" : "")), textposition: "auto", cliponaxis: false,
              marker: {color: "#3451c7"}, hovertemplate: "%{y}: %{x:.1%}<extra></extra>"};
    }
    if (line.type === "bar") {
      return {type: "bar", name: line.name, meta: line.key, x: line.x.slice(), y: line.y.slice(),
              text: line.y.map((value) => Number(value.toPrecision(3))), textposition: "auto"};
    }
    const scatter = {type: "scatter", mode: line.mode || "lines+markers", name: line.name, meta: line.key,
                     x: line.x.slice(), y: line.y.slice(), yaxis: line.axis === "y2" ? "y2" : "y"};
    if (line.symbol) scatter.marker = {symbol: line.symbol, size: line.size || 10};
    if (line.text) {
      scatter.text = line.text.slice();
      scatter.hovertemplate = "%{text}<br>%{x} parameters, validation %{y:.4f}<extra></extra>";
    }
    return scatter;
  }

  function layout(data) {
    const shapes = [], annotations = [];
    for (const ref of data.references || []) {  // a horizontal dashed line across the plot
      const yref = ref.axis === "y2" ? "y2" : "y";
      shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, yref: yref, y0: ref.y, y1: ref.y,
                   line: {dash: "dash", width: 1.5, color: "#495057"}});
      annotations.push({xref: "paper", x: 1, xanchor: "right", yref: yref, y: ref.y, yanchor: "bottom",
                        text: ref.name, showarrow: false, font: {size: 11, color: "#495057"}});
    }
    const series = data.series || [];
    const twoAxes = series.some((line) => line.axis === "y2");
    const heatmap = series.some((line) => line.type === "heatmap");
    const result = {
      height: 320, margin: {l: 56, r: twoAxes ? 56 : 16, t: 16, b: 48}, barmode: "group",
      legend: {orientation: "h", y: -0.25}, shapes: shapes, annotations: annotations, showlegend: series.length > 1,
      xaxis: {title: {text: data.x_title || ""}},
      yaxis: {title: {text: data.y_title || ""}, rangemode: "tozero"},
    };
    const horizontal = series.find((line) => line.type === "bar" && line.orientation === "h");
    if (horizontal) {  // probabilities: one bar per label, the most likely on top
      return Object.assign(result, {height: Math.max(140, 26 * horizontal.y.length + 56), margin: {l: 16, r: 16, t: 8, b: 40},
        xaxis: {title: {text: data.x_title || ""}, range: [0, 1], tickformat: ".0%", fixedrange: true},
        yaxis: {type: "category", autorange: "reversed", automargin: true, fixedrange: true, ticksuffix: "  "}});
    }
    // Plotly reads a key set to undefined as an axis to lay out: only what applies is set
    if (series.some((line) => line.type === "bar" || line.type === "heatmap")) result.xaxis.type = "category";
    if (heatmap) Object.assign(result.yaxis, {type: "category", autorange: "reversed"});
    if (data.y_type) result.yaxis.type = data.y_type;
    if (data.x_type) result.xaxis.type = data.x_type;
    if (data.y_rangemode) result.yaxis.rangemode = data.y_rangemode;
    if (data.y_range) result.yaxis.range = data.y_range;
    if (twoAxes) {
      result.yaxis2 = {title: {text: data.y2_title || ""}, overlaying: "y", side: "right",
                       range: [0, 1.05], tickmode: "auto", tickformat: ".0%", showgrid: false};
    }
    return result;
  }

  function showEmpty(el, points) {
    const empty = document.getElementById(el.id + "-empty");
    if (empty) empty.hidden = points > 0;
  }

  // A metric event's points: one per series whose key the event's metrics hold, at the event's step.
  function metricPoints(s, event) {
    if (event.step === undefined || event.step === null) return null;
    const metrics = event.metrics || {}, update = {x: [], y: []}, indices = [];
    s.keys.forEach((key, index) => {
      if (typeof metrics[key] === "number") { update.x.push([event.step]); update.y.push([metrics[key]]); indices.push(index); }
    });
    return {update: update, indices: indices};
  }

  // A trial event's point: the student's parameters and validation accuracy, in its outcome's series.
  function trialPoints(s, event) {
    const trial = event.trial || {};
    if (typeof trial.params !== "number" || typeof trial.val_accuracy !== "number") return null;
    const index = s.keys.indexOf(trial.reference ? "reference" : trial.state === "pruned" ? "pruned" : "complete");
    if (index < 0) return null;
    const label = trialLabel(trial);
    return {update: {x: [[trial.params]], y: [[trial.val_accuracy]], text: [["trial " + (trial.number + 1) + ": " + label]]},
            indices: [index]};
  }

  function apply(el, event) {
    const s = state.get(el);
    if (event.seq <= s.lastSeq || event.type !== s.eventType) return;
    const points = event.type === "trial" ? trialPoints(s, event) : metricPoints(s, event);
    if (!points) return;
    s.lastSeq = event.seq;
    const indices = points.indices;
    if (indices.length) {
      Plotly.extendTraces(el, points.update, indices);
      s.points += indices.length;
      showEmpty(el, s.points);
    }
    el.dataset.lastSeq = String(s.lastSeq);
  }

  function draw(el) {
    state.set(el, {lastSeq: Infinity, keys: [], points: 0, pending: [], eventType: null});  // events wait until drawn
    const loaded = el.dataset.series ? Promise.resolve().then(() => JSON.parse(el.dataset.series))
      : fetch(el.dataset.seriesUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then((response) => { if (!response.ok) throw new Error("HTTP " + response.status); return response.json(); });
    return loaded
      .then((data) => Plotly.newPlot(el, data.series.map(trace), layout(data),
                                     {responsive: true, displaylogo: false}).then(() => data))
      .then((data) => {
        const s = state.get(el), pending = s.pending;
        Object.assign(s, {lastSeq: data.last_seq || 0, keys: data.series.map((line) => line.key), pending: null,
                          eventType: data.event_type || "metric",
                          points: data.series.reduce((total, line) => total + line.x.length, 0)});
        el.dataset.lastSeq = String(s.lastSeq);
        el.dataset.state = "drawn";
        showEmpty(el, s.points);
        pending.forEach((event) => apply(el, event));
      })
      .catch((error) => {
        el.dataset.state = "failed";
        el.textContent = "The chart could not be loaded (" + error.message + ").";
      });
  }

  // A metric (or, for a trial chart, trial) event from the job's websocket: its points join the
  // chart once, in seq order.
  function append(el, event) {
    const s = state.get(el);
    if (!s) return;
    if (s.pending) { s.pending.push(event); return; }
    apply(el, event);
  }

  // A trial's design and settings in words, as distillation.selectors.trial_label writes them.
  function trialSettings(trial) {
    if (trial.reference) return "labels only (alpha 0)";
    return "T " + String(trial.temperature) + " · alpha " + String(trial.alpha) + " · lr ×" + String(trial.lr_scale) +
      (trial.extra ? " · + unlabelled rows" : "");
  }

  function trialLabel(trial) {
    return String(trial.design) + ", " + trialSettings(trial);
  }

  window.PrsmCharts = {draw: draw, append: append, trialSettings: trialSettings, trialLabel: trialLabel};
  document.querySelectorAll("[data-chart][data-series-url]").forEach(draw);
})();

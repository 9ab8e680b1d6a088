// The wizard (/distill/): copy buttons, uploads with a progress bar, and small bar charts drawn from
// JSON the page carries (class counts, the estimate's breakdown), redrawn when htmx swaps a part in.
(function () {
  "use strict";

  function json(id) {
    const element = id && document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function drawBars(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-bar-chart]").forEach((box) => {
      let x = json(box.dataset.x), y = json(box.dataset.y);
      const rows = json(box.dataset.rows);
      if (rows) { x = rows.map((row) => row.name); y = rows.map((row) => Number(row.ftns.replace(/,/g, ""))); }
      if (!x || !y) return;
      window.Plotly.react(box, [{type: "bar", x: x, y: y, marker: {color: "#3451c7"}}], {
        margin: {l: 50, r: 10, t: 10, b: 60}, height: 240, yaxis: {title: {text: box.dataset.yTitle || ""}},
        xaxis: {type: "category"}, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      }, {displayModeBar: false, responsive: true});
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach((button) => {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", async () => {
        const text = document.getElementById(button.dataset.copy).textContent;
        const note = document.querySelector(`[data-copied-for="${button.dataset.copy}"]`);
        try {
          await navigator.clipboard.writeText(text);
          note.textContent = "Copied.";
        } catch (error) {
          const range = document.createRange();  // no clipboard permission: select it for Ctrl+C
          range.selectNodeContents(document.getElementById(button.dataset.copy));
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          note.textContent = "Selected: press Ctrl+C to copy.";
        }
      });
    });
  }

  function uploads(root) {
    root.querySelectorAll("form[data-upload]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const bar = form.querySelector("progress"), percent = form.querySelector("[data-upload-percent]");
        const error = form.querySelector("[data-upload-error]"), button = form.querySelector("button[type=submit]");
        const request = new XMLHttpRequest();
        error.textContent = "";
        bar.value = 0;
        form.querySelector(".upload-progress").hidden = false;
        button.disabled = true;
        request.upload.addEventListener("progress", (progress) => {
          if (!progress.lengthComputable) return;
          bar.value = Math.round(progress.loaded / progress.total * 100);
          percent.textContent = bar.value + "%";
        });
        request.addEventListener("load", () => {
          button.disabled = false;
          let body = {};
          try { body = JSON.parse(request.responseText); } catch (parse) { body = {}; }
          if (request.status < 400 && body.redirect) { window.location.assign(body.redirect); return; }
          error.textContent = (body.error && body.error.message) ||
            (request.status === 413 ? "The file is too large." : "The upload failed (" + request.status + ").");
        });
        request.addEventListener("error", () => {
          button.disabled = false;
          error.textContent = "The upload did not reach the server; check your connection and try again.";
        });
        request.open("POST", form.action);
        request.setRequestHeader("Accept", "application/json");
        request.send(new FormData(form));
      });
    });
  }

  function start() {
    drawBars(document);
    copyButtons(document);
    uploads(document);
    document.body.addEventListener("htmx:afterSwap", (event) => { drawBars(event.target); copyButtons(event.target); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
  window.addEventListener("load", () => drawBars(document));  // Plotly (deferred, larger) may arrive later
})();

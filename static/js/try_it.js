// "Try it" (templates/serving/_try_it.html), on the job page, a listing and its own page: htmx loads the
// form and swaps in each answer; this draws the answer's chart (static/js/charts.js, from the JSON the
// answer carries), moves focus to the answer, and spreads a pasted CSV row over the feature inputs.
(function () {
  "use strict";

  function spreadCsv(input) {
    const form = input.closest("form");
    const cells = form.querySelectorAll("[data-feature]");
    const values = input.value.trim().split(/[,;\t]/).map((value) => value.trim());
    if (!cells.length || values.length !== cells.length || values.some((value) => value === "" || isNaN(Number(value)))) return;
    cells.forEach((cell, index) => { cell.value = values[index]; });
  }

  function bind(root) {
    root.querySelectorAll("[data-csv-row]").forEach((input) => {
      if (input.dataset.bound) return;
      input.dataset.bound = "1";
      input.addEventListener("input", () => spreadCsv(input));
    });
    root.querySelectorAll("[data-chart][data-series]").forEach((el) => {
      if (el.dataset.state !== "loading" || !window.PrsmCharts) return;
      el.dataset.state = "drawing";
      window.PrsmCharts.draw(el);
    });
  }

  // An answer swapped in: focus goes to it (or to the first field in error), so it is read out.
  function focusAnswer(section) {
    const target = section.querySelector("#try-it-result, #try-it-error, .has-error input, .has-error textarea");
    if (target) target.focus();
  }

  document.addEventListener("htmx:load", (event) => {
    bind(event.target);
    if (event.target.id === "try-it" && event.target.dataset.answered) focusAnswer(event.target);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => bind(document));
  } else {
    bind(document);
  }
})();

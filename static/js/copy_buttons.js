// Copy buttons: a button[data-copy=ID] copies the text of #ID and says so in [data-copied-for=ID]. Used by the
// listing page's usage snippets and My models' curl examples.
(function () {
  "use strict";

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const code = document.getElementById(button.dataset.copy);
        const note = document.querySelector(`[data-copied-for="${button.dataset.copy}"]`);
        try {
          await navigator.clipboard.writeText(code.textContent);
          note.textContent = "Copied.";
        } catch (error) {
          const range = document.createRange();  // no clipboard permission: select it for Ctrl+C
          range.selectNodeContents(code);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          note.textContent = "Selected: press Ctrl+C to copy.";
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => copyButtons(document));
  } else {
    copyButtons(document);
  }
})();

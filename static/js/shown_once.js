// What every page that shows a secret once does (a new API key on the account page, a webhook's signing
// secret): takes the reader to the block ([data-shown-once]), shows its Copy button where the clipboard
// can be used ([data-copy-target] names the field) and says what happened ([data-copy-status]), selects the
// field when it gets focus; and asks before a form marked data-confirm is sent (revoke, rotate, delete).
(function () {
  "use strict";

  for (const block of document.querySelectorAll("[data-shown-once]")) {
    block.focus();
    const copy = block.querySelector("[data-copy-target]");
    const field = copy && document.getElementById(copy.dataset.copyTarget);
    const status = block.querySelector("[data-copy-status]");
    const what = block.dataset.shownOnce;
    if (field) field.addEventListener("focus", () => field.select());
    if (copy && field && navigator.clipboard && window.isSecureContext) {
      copy.hidden = false;
      copy.addEventListener("click", () => {
        navigator.clipboard.writeText(field.value).then(
          () => { status.textContent = "Copied to the clipboard."; },
          () => { field.select(); status.textContent = `Could not copy: the ${what} is selected, copy it with your keyboard.`; });
      });
    }
  }

  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();

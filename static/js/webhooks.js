// A webhook endpoint's page: takes the reader to a new secret (shown once) and copies it, and asks
// before the secret is rotated or the endpoint deleted.
(function () {
  "use strict";

  const block = document.getElementById("new-secret");
  if (block) block.focus();

  const copy = document.getElementById("copy-secret");
  if (copy && navigator.clipboard && window.isSecureContext) {
    copy.hidden = false;
    copy.addEventListener("click", () => {
      const field = document.getElementById(copy.dataset.copyTarget);
      const status = document.getElementById("copy-status");
      navigator.clipboard.writeText(field.value).then(
        () => { status.textContent = "Copied to the clipboard."; },
        () => { field.select(); status.textContent = "Could not copy: the secret is selected, copy it with your keyboard."; });
    });
  }
  const field = document.getElementById("new-secret-value");
  if (field) field.addEventListener("focus", () => field.select());

  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();

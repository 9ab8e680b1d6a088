// The moderation queues' keyboard shortcuts (templates/moderation/queue.html): j / k move to the
// next / previous item, a / r / s choose the item's first / second / third decision and put the
// cursor in its reason, Ctrl+Enter in the reason submits, Esc leaves the reason, ? shows the help.
(function () {
  "use strict";
  const items = Array.from(document.querySelectorAll("[data-item]"));
  const help = document.getElementById("shortcuts");
  const toggle = document.querySelector("[data-shortcuts-toggle]");
  let current = -1;

  function select(index) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, index));
    items.forEach((item, i) => { if (i === current) item.dataset.current = ""; else delete item.dataset.current; });
    items[current].focus();
    items[current].scrollIntoView({block: "nearest"});
  }

  function choose(position) {
    if (current < 0) select(0);
    const item = items[current];
    if (!item) return;
    const radios = item.querySelectorAll("[data-decision]");
    if (radios[position]) radios[position].checked = true;
    item.querySelector("[data-reason]").focus();
  }

  function toggleHelp() {
    help.hidden = !help.hidden;
    toggle.setAttribute("aria-expanded", String(!help.hidden));
  }

  function typing(target) {
    // a chosen decision (radio) keeps the shortcuts; a text field or a list takes the keys
    return target.closest("input:not([type=radio]), textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.defaultPrevented) return;
    if (typing(event.target)) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
        event.preventDefault();
        event.target.form.requestSubmit();
      } else if (event.key === "Escape" && current >= 0) {
        event.preventDefault();
        items[current].focus();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    const actions = {j: () => select(current + 1), k: () => select(current - 1), a: () => choose(0),
                     r: () => choose(1), s: () => choose(2), "?": toggleHelp};
    if (actions[event.key]) {
      event.preventDefault();
      actions[event.key]();
    }
  });

  items.forEach((item, index) => item.addEventListener("focusin", () => {
    current = index;
    items.forEach((other) => { if (other === item) other.dataset.current = ""; else delete other.dataset.current; });
  }));
  if (toggle) toggle.addEventListener("click", toggleHelp);
  // a form sent back with an error: its reason; otherwise the first item, ready for j / k
  const invalid = document.querySelector(".queue-item .has-error textarea, .queue-item .form-errors");
  if (invalid) invalid.closest("[data-item]").querySelector("[data-reason]").focus();
  else if (items.length && !location.hash) select(0);
})();

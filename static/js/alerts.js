// Alert list: "select all" and the number selected on the bulk button. Without script the
// checkboxes and the button work as they are; this only saves clicks.
(() => {
  function sync(form) {
    const boxes = form.querySelectorAll("input.js-select");
    const checked = form.querySelectorAll("input.js-select:checked").length;
    const all = form.querySelector("input.js-select-all");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
      all.disabled = boxes.length === 0;
    }
    const count = form.querySelector(".js-bulk-count");
    if (count) count.textContent = checked ? ` (${checked})` : "";
    const submit = form.querySelector(".js-bulk-submit");
    if (submit) submit.disabled = checked === 0;
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest("form.js-bulk-form");
    if (!form) return;
    if (event.target.matches("input.js-select-all")) {
      form.querySelectorAll("input.js-select").forEach((box) => { box.checked = event.target.checked; });
    }
    sync(form);
  });

  document.addEventListener("DOMContentLoaded", () => {
    htmx.onLoad((root) => {
      const forms = root.matches && root.matches("form.js-bulk-form") ? [root] : root.querySelectorAll("form.js-bulk-form");
      forms.forEach(sync);
    });
  });
})();

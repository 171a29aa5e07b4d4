// Small behaviours that need script. Every page works without it.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.js-confirm");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
}, true);

// Move forms: show the Lost and Funded fields only for those stages (all show without script).
function syncMoveFields(form) {
  const select = form.querySelector("select[name=to_stage]");
  if (!select) return;
  form.querySelectorAll("[data-show-for]").forEach((el) => {
    el.hidden = el.dataset.showFor !== select.value;
  });
}
document.addEventListener("change", (event) => {
  if (event.target.name === "to_stage" && event.target.form) syncMoveFields(event.target.form);
});
document.addEventListener("DOMContentLoaded", () => {
  htmx.onLoad((root) => {
    if (root.matches("form.js-move-form")) syncMoveFields(root);
    root.querySelectorAll("form.js-move-form").forEach(syncMoveFields);
  });
});

// A table that scrolls sideways (a wide table, a phone) can be scrolled with the keyboard: its
// wrapper takes focus, announced as a region named by the heading of its section.
function keyboardScrollers(root) {
  root.querySelectorAll(".table-responsive").forEach((el) => {
    if (el.scrollWidth <= el.clientWidth || el.hasAttribute("tabindex")) return;
    el.tabIndex = 0;
    const section = el.closest("[aria-labelledby]");
    if (section) {
      el.setAttribute("role", "region");
      el.setAttribute("aria-labelledby", section.getAttribute("aria-labelledby"));
    }
  });
}
document.addEventListener("DOMContentLoaded", () => {
  keyboardScrollers(document);
  htmx.onLoad(keyboardScrollers);
  window.addEventListener("resize", () => keyboardScrollers(document));
});

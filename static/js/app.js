// Small behaviours that need script. Every page works without it.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.js-confirm");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
}, true);

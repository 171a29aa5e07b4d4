// Copy buttons (e.g. the facility code on its page): a button with data-copy="<selector>" copies
// that element's text. Without the clipboard API (an http:// address, an old browser) the text
// is selected instead and the button says to press Ctrl+C. Without script the buttons stay
// hidden and the code is selected by one click (user-select-all).
function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function say(button, text) {
  const label = button.querySelector(".js-copy-label");
  if (!label) return;
  if (!button.dataset.label) button.dataset.label = label.textContent;
  label.textContent = text;
  window.clearTimeout(button.copyTimer);
  button.copyTimer = window.setTimeout(() => { label.textContent = button.dataset.label; }, 4000);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.js-copy");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  const fallback = () => { selectText(source); say(button, button.dataset.select); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => say(button, button.dataset.copied), fallback);
  } else {
    fallback();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.js-copy").forEach((button) => { button.hidden = false; });
});

// Findings pages: copy buttons for ready-to-paste YAML and commands, and the findings table's
// "select all" box. Served from the app (no inline scripts: see the page CSP).
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const box = document.getElementById(button.dataset.copy);
  if (!box) return;
  const text = box.textContent;
  const done = function () {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { selectText(box); });
  } else {
    selectText(box);
    try { if (document.execCommand("copy")) done(); } catch (e) { /* selected for Ctrl+C */ }
  }
});

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

document.addEventListener("change", function (event) {
  if (!event.target.matches("input.select-all")) return;
  const form = event.target.closest("form");
  form.querySelectorAll("input[name=ids]").forEach(function (box) {
    box.checked = event.target.checked;
  });
});

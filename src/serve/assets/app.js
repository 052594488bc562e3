// minqing serve: the pages work without this file; it only adds conveniences.
// Loaded from this server (the page policy forbids inline script).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Ask before actions that are recorded or change an account.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // A changed choice (sort order, trend) applies at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // The brief list's print buttons.
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
});

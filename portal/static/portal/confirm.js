// Destructive actions ask first: a form with data-confirm="Question?" submits only when the question
// is answered OK. A listener in this file, not onsubmit="...", so the pages pass the Content-Security-Policy
// (no inline script).
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
})();

// Every <time datetime data-local> in the browser's own zone, ISO 8601 with its offset
// (2026-12-07T20:40:31+08:00); the server renders UTC (+00:00). Run again after each htmx swap.
(function () {
  "use strict";
  const pad = (n) => String(n).padStart(2, "0");
  function local(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return iso;
    const offset = -when.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T` +
      `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}${zone}`;
  }
  function convert(root) {
    root.querySelectorAll("time[datetime][data-local]").forEach((el) => {
      el.textContent = local(el.getAttribute("datetime"));
      el.title = el.getAttribute("datetime");
    });
  }
  window.localTime = local;
  document.addEventListener("DOMContentLoaded", () => convert(document));
  document.addEventListener("htmx:afterSwap", (event) => convert(event.target));
})();

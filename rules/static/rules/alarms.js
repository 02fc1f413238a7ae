// The alarm console's live table (rules/alarms.html). htmx filter expressions ("live-event[...]") need
// eval, which the Content-Security-Policy forbids: htmx then lets every live event through, and its
// throttle drops the events that follow one within the window, so an alarm raised just after a device's
// other events was missed until the 30 s refresh. Here: only `alarms.changed` (live.js dispatches it as
// "live-alarms-changed"), at most one refresh a second with the last event always honoured, every 30 s
// besides, and none while alarms are ticked (a refresh would untick them).
(function () {
  "use strict";
  const table = document.getElementById("alarm-table");
  if (!table || !window.htmx) return;
  const ticked = () => table.querySelector("input[name=alarm]:checked") !== null;
  let last = 0;
  let pending = null;
  let missed = false;  // an event arrived while alarms were ticked: refresh once they are not
  function refresh() {
    pending = null;
    if (ticked()) { missed = true; return; }
    missed = false;
    last = Date.now();
    htmx.trigger(table, "alarms-refresh");
  }
  function soon() {
    if (pending !== null) return;  // the refresh already scheduled will show this change too
    pending = setTimeout(refresh, Math.max(0, last + 1000 - Date.now()));
  }
  document.addEventListener("live-alarms-changed", soon);
  table.addEventListener("change", () => { if (missed && !ticked()) soon(); });
  setInterval(() => { if (Date.now() - last >= 30000) refresh(); }, 30000);
})();

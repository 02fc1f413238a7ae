// Live events: one websocket to /ws/events/ per page that wants them. Each event is dispatched on
// `document` as a "live-event" CustomEvent, and prepended to every [data-live-events] list.
(function () {
  "use strict";
  const lists = document.querySelectorAll("[data-live-events]");
  const states = document.querySelectorAll("[data-live-state]");
  if (!lists.length && !document.querySelector("[data-live]")) return;
  lists.forEach((list) => { list.dataset.count = "0"; list.innerHTML = `<li class="muted">${list.dataset.empty}</li>`; });
  let delay = 1000;
  // time.js: a <time> in the user's chosen zone (it follows a change of zone); the ISO text without it.
  const timeOf = (iso) => {
    if (window.timeElement) return window.timeElement(iso);
    const el = document.createElement("time"); el.dateTime = iso; el.textContent = iso; return el;
  };
  function setState(text, cls) { states.forEach((el) => { el.textContent = text; el.className = "live-state " + cls; }); }
  function show(event) {
    if (event.kind === "platform.heartbeat") {
      const beat = document.getElementById("heartbeat");
      if (beat) beat.replaceChildren(timeOf(event.data.at));
    }
    lists.forEach((list) => {
      // The dashboard shows one application's events (data-application: its pk); other lists show all.
      if (list.dataset.application && String(event.application) !== list.dataset.application) return;
      const entries = event.kind === "device.logs" ? event.data.entries : [event.data];
      entries.forEach((data) => {
        if (list.dataset.count === "0") list.innerHTML = "";
        list.dataset.count = String(Number(list.dataset.count) + 1);
        list.prepend(eventItem(event, data, list.dataset.deviceUrl || "/devices/"));
      });
      while (list.children.length > 50) list.lastChild.remove();
    });
  }
  // One readable line: time, kind, the device by nodeId (linked to its page), then the data as key: value.
  function eventItem(event, data, deviceUrl) {
    const item = document.createElement("li");
    const time = timeOf(event.at);
    const kind = document.createElement("strong"); kind.textContent = event.kind === "device.logs" ? "device.log" : event.kind;
    item.append(time, " ", kind, " ");
    const rest = Object.assign({}, data);
    if (data && data.deviceId) {
      const link = document.createElement("a");
      link.href = deviceUrl + encodeURIComponent(data.deviceId) + "/";
      link.textContent = data.nodeId || data.deviceId;
      item.append(link, " ");
      delete rest.deviceId; delete rest.nodeId;
    }
    const detail = document.createElement("span"); detail.className = "event-detail";
    detail.textContent = Object.entries(rest || {})
      .filter(([, value]) => value !== "" && value !== null && value !== undefined)
      .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
      .join(" · ");
    item.append(detail);
    return item;
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/events/`);
    socket.onopen = () => { delay = 1000; setState("●", "on"); document.body.dataset.live = "open"; };
    socket.onclose = () => {
      setState("○", "off"); document.body.dataset.live = "closed";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      show(event);
      document.dispatchEvent(new CustomEvent("live-event", { detail: event }));
      // Also by kind ("bulk.progress" -> "live-bulk-progress"), so hx-trigger needs no filter expression:
      // htmx evaluates those with eval, which the Content-Security-Policy forbids.
      document.dispatchEvent(new CustomEvent("live-" + event.kind.replace(/[^a-z0-9]+/gi, "-"), { detail: event }));
    };
  }
  connect();
})();

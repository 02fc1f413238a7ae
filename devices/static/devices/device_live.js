// Device page, live: one websocket to /ws/devices/<deviceId>/, this device's events only (devices.live).
// "device.log" lines are prepended to the log; "device.changed" fetches the page's live parts again
// (status, activation, last seen, latest data, desired against reported, location) from the server,
// which renders them with the page's own templates; a command's log line refreshes the command list.
(function () {
  "use strict";
  const anchor = document.querySelector("[data-device-live]");
  if (!anchor) return;
  const log = document.querySelector("[data-device-log]");
  const states = document.querySelectorAll("[data-device-live-state]");
  let delay = 1000, fetching = false, again = false;

  function setState(text, cls) { states.forEach((el) => { el.textContent = text; el.className = "live-state " + cls; }); }

  // At most one fetch in flight; changes that arrive meanwhile bring one more fetch after it.
  async function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const response = await fetch(anchor.dataset.deviceLive, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      if (response.ok) swap(await response.text());
    } catch (error) { /* the next change or reconnection tries again */ }
    fetching = false;
    if (again) { again = false; refresh(); }
  }

  function swap(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("[data-live-part]").forEach((fresh) => {
      const current = document.querySelector(`[data-live-part="${fresh.dataset.livePart}"]`);
      if (!current) return;
      current.replaceWith(fresh);
      // The part's <time data-local> in the chosen zone, as time.js does after each htmx swap.
      if (window.convertTimes) window.convertTimes(fresh);
    });
    document.body.dataset.deviceRefreshed = String(Number(document.body.dataset.deviceRefreshed || 0) + 1);
  }

  function logLine(event) {
    if (!log) return;
    const data = event.data;
    log.querySelector("[data-empty]")?.remove();
    const item = document.createElement("li");
    const time = window.timeElement ? window.timeElement(event.at) : document.createElement("time");
    if (!window.timeElement) { time.dateTime = event.at; time.textContent = event.at; }
    const kind = document.createElement("strong"); kind.textContent = data.kind;
    item.append(time, " ", kind, " ", data.summary);
    if (data.raw) { const raw = document.createElement("code"); raw.className = "small"; raw.textContent = data.raw; item.append(" ", raw); }
    log.prepend(item);
    while (log.children.length > 200) log.lastChild.remove();
    if (data.kind === "command") document.dispatchEvent(new CustomEvent("live-device-commands"));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${anchor.dataset.deviceSocket}`);
    socket.onopen = () => {
      delay = 1000; setState("●", "on"); document.body.dataset.deviceLive = "open";
      refresh();  // what changed between the page's rendering and the socket's opening
    };
    socket.onclose = (closed) => {
      setState("○", "off"); document.body.dataset.deviceLive = "closed";
      if (closed.code === 4403 || closed.code === 4401) return;  // not allowed: trying again will not help
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.kind === "device.log") logLine(event);
      else if (event.kind === "device.changed") refresh();
    };
  }
  connect();
})();

// Live events: a websocket to /ws/events/ that prepends each event to every [data-live-events] list.
(function () {
  "use strict";
  const lists = document.querySelectorAll("[data-live-events]");
  const states = document.querySelectorAll("[data-live-state]");
  if (!lists.length) return;
  lists.forEach((list) => { list.dataset.count = "0"; list.innerHTML = `<li class="muted">${list.dataset.empty}</li>`; });
  let delay = 1000;
  function setState(text, cls) { states.forEach((el) => { el.textContent = text; el.className = "live-state " + cls; }); }
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
      if (event.kind === "platform.heartbeat") {
        const beat = document.getElementById("heartbeat");
        if (beat) beat.textContent = event.data.at.replace("T", " ").replace("+00:00", "");
      }
      lists.forEach((list) => {
        if (list.dataset.count === "0") list.innerHTML = "";
        list.dataset.count = String(Number(list.dataset.count) + 1);
        const item = document.createElement("li");
        const time = document.createElement("time"); time.textContent = event.at.replace("T", " ").replace("+00:00", "");
        const kind = document.createElement("strong"); kind.textContent = event.kind;
        const data = document.createElement("code"); data.textContent = JSON.stringify(event.data);
        item.append(time, " ", kind, " ", data);
        list.prepend(item);
        while (list.children.length > 50) list.lastChild.remove();
      });
    };
  }
  connect();
})();

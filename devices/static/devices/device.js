// Device page: the history chart (inline SVG, no library) and the live device log.
(function () {
  "use strict";
  const chart = document.getElementById("chart");
  if (chart) {
    const series = JSON.parse(chart.dataset.series || "{}");
    const names = Object.keys(series);
    if (names.length) {
      const width = 900, height = 220, pad = 36;
      const colors = ["#c7000b", "#1f6feb", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4"];
      const times = names.flatMap((n) => series[n].map((p) => Date.parse(p[0])));
      const t0 = Math.min(...times), t1 = Math.max(...times) || t0 + 1;
      const ns = "http://www.w3.org/2000/svg";
      const svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      svg.setAttribute("role", "img");
      const legend = document.createElement("div");
      legend.className = "legend";
      names.slice(0, colors.length).forEach((name, index) => {
        const values = series[name].map((p) => p[1]);
        const v0 = Math.min(...values), v1 = Math.max(...values);
        const x = (t) => pad + ((t - t0) / (t1 - t0 || 1)) * (width - 2 * pad);
        const y = (v) => height - pad - ((v - v0) / (v1 - v0 || 1)) * (height - 2 * pad);
        const line = document.createElementNS(ns, "polyline");
        line.setAttribute("points", series[name].map((p) => `${x(Date.parse(p[0])).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "));
        line.setAttribute("fill", "none");
        line.setAttribute("stroke", colors[index]);
        line.setAttribute("stroke-width", "2");
        svg.append(line);
        const key = document.createElement("span");
        key.innerHTML = `<i style="background:${colors[index]}"></i>`;
        key.append(`${name} (${v0} – ${v1})`);
        legend.append(key);
      });
      chart.append(svg, legend);
    }
  }
  const log = document.querySelector("[data-device-log]");
  if (!log) return;
  document.body.dataset.liveWanted = "1";
  document.addEventListener("live-event", (message) => {
    const event = message.detail;
    // One event per log line, or the ingress's batches: "device.logs" with entries of the same shape.
    const entries = event.kind === "device.log" ? [event.data] : event.kind === "device.logs" ? event.data.entries : [];
    for (const data of entries) {
      if (data.deviceId !== log.dataset.deviceLog) continue;
      log.querySelector("[data-empty]")?.remove();
      const item = document.createElement("li");
      const time = document.createElement("time"); time.dateTime = event.at;
      time.textContent = window.localTime ? window.localTime(event.at) : event.at;
      const kind = document.createElement("strong"); kind.textContent = data.kind;
      item.append(time, " ", kind, " ", data.summary);
      if (data.raw) { const raw = document.createElement("code"); raw.className = "small"; raw.textContent = data.raw; item.append(" ", raw); }
      log.prepend(item);
    }
  });
})();

// Device page: the history chart on uPlot (vendored, devices/static/devices/vendor/uplot; docs/charts.md).
// One series per numeric property, each on its own scale and axis with its unit; a time axis in the
// user's chosen zone (time.js; the browser's by default); a tooltip at the cursor; ranges 1 h, 24 h, 7 d or custom; gaps (nulls from the server,
// devices.charts) break the line. The same data as a table, and as CSV from the server (the same points).
(function () {
  "use strict";
  const card = document.querySelector("[data-chart]");
  if (!card || !window.uPlot) return;
  const form = card.querySelector("[data-chart-range]");
  const plot = card.querySelector("[data-chart-plot]");
  const status = card.querySelector("[data-chart-status]");
  const description = card.querySelector("[data-chart-description]");
  const tableBox = card.querySelector("[data-chart-table]");
  const toggle = card.querySelector("[data-chart-toggle]");
  const download = card.querySelector("[data-chart-download]");
  const custom = card.querySelector("[data-chart-custom]");
  const colors = ["#c7000b", "#1f6feb", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#bf3989", "#57606a"];
  const plain = (seconds) => (window.localTime ? window.localTime(new Date(seconds * 1000).toISOString()) : new Date(seconds * 1000).toISOString());
  const format = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => (values[name] ?? ""));
  let chart = null, loaded = null, request = 0;

  // "2026-12-07T18:28:09" read in the user's chosen zone (time.js; the browser's by default) as a UTC ISO 8601
  // instant. The zone's offset at that wall time: tried once, then again at the result (a DST change between).
  function wallToUtc(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
    if (!m || !window.zonedParts) return new Date(value).toISOString();
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    let utc = wall - window.zonedParts(new Date(wall)).offset * 60000;
    utc = wall - window.zonedParts(new Date(utc)).offset * 60000;
    return new Date(utc).toISOString();
  }

  function query() {
    const data = new FormData(form);
    const params = new URLSearchParams({ range: data.get("range") || "24h" });
    if (params.get("range") === "custom") {
      for (const name of ["from", "to"]) {
        const value = data.get(name);
        // datetime-local is a wall time in the user's chosen zone: sent as UTC ISO 8601 (an empty one: the server names it).
        params.set(name, value ? wallToUtc(value) : "");
      }
    }
    return params;
  }

  // Time-axis labels in the browser's zone, 24-hour ISO-like: dates for day steps, else HH:MM with the
  // date (MM-DD) on the first label and at each midnight.
  const two = (n) => String(n).padStart(2, "0");
  // The user's chosen zone (time.js: the header's "Time zone" menu), else the browser's.
  const zoned = (when) => (window.zonedParts ? window.zonedParts(when) : {
    year: when.getFullYear(), month: when.getMonth() + 1, day: when.getDate(), hour: when.getHours(), minute: when.getMinutes(),
  });
  function timeLabels(u, splits, axisIndex, space, increment) {
    return splits.map((seconds, index) => {
      const when = zoned(new Date(seconds * 1000));
      const day = `${two(when.month)}-${two(when.day)}`;
      if (increment >= 86400) return `${when.year}-${day}`;
      const time = `${two(when.hour)}:${two(when.minute)}`;
      return index === 0 || (when.hour === 0 && when.minute === 0) ? `${day}\n${time}` : time;
    });
  }

  function label(series) { return series.unit ? `${series.key} (${series.unit})` : series.key; }

  function tooltip() {
    let box;
    return {
      hooks: {
        init: (u) => { box = document.createElement("div"); box.className = "chart-tooltip"; box.hidden = true; u.over.append(box); },
        setCursor: (u) => {
          const index = u.cursor.idx;
          if (index == null) { box.hidden = true; return; }
          box.replaceChildren();
          const time = document.createElement("strong"); time.textContent = plain(u.data[0][index]); box.append(time);
          u.series.slice(1).forEach((series, n) => {
            const value = u.data[n + 1][index];
            if (value == null) return;
            const line = document.createElement("div"); line.textContent = `${series.label}: ${value}`; box.append(line);
          });
          box.hidden = box.children.length < 2;
          const left = Math.min(u.cursor.left + 12, u.over.clientWidth - box.offsetWidth - 4);
          box.style.left = `${Math.max(0, left)}px`; box.style.top = `${Math.max(0, u.cursor.top - box.offsetHeight - 8)}px`;
        },
      },
    };
  }

  function draw(body) {
    if (chart) { chart.destroy(); chart = null; }
    plot.replaceChildren();
    const series = body.series;
    if (!series.length) return;
    const data = uPlot.join(series.map((one) => [one.times, one.values]));
    const width = Math.max(280, plot.clientWidth || card.clientWidth - 32);
    const options = {
      width, height: 260,
      scales: { x: { time: true, range: [Date.parse(body.from) / 1000, Date.parse(body.to) / 1000] } },
      axes: [{ values: timeLabels, space: 60 }],
      series: [{ value: (u, v) => (v == null ? "—" : plain(v)) }],
      plugins: [tooltip()],
      legend: { live: true },
      cursor: { focus: { prox: 16 } },
    };
    const zone = window.chosenTimeZone && window.chosenTimeZone();
    if (zone && uPlot.tzDate) options.tzDate = (seconds) => uPlot.tzDate(new Date(seconds * 1000), zone);  // ticks on the zone's hours
    series.forEach((one, n) => {
      const color = colors[n % colors.length];
      options.scales[one.key] = { auto: true };
      options.series.push({ label: label(one), scale: one.key, stroke: color, width: 2, spanGaps: false, points: { show: one.values.length < 60 } });
      options.axes.push({ scale: one.key, label: label(one), stroke: color, side: n % 2 ? 1 : 3, grid: { show: n === 0 }, size: 60 });
    });
    chart = new uPlot(options, data, plot);
    window.deviceChart = chart;  // for the browser tests
  }

  function describe(body) {
    description.replaceChildren();
    body.series.forEach((one) => {
      const s = one.summary;
      const line = document.createElement("span");
      line.textContent = format(description.dataset.readings, {
        name: one.key, readings: s.readings, min: s.min, max: s.max, latest: s.latest,
        unit: one.unit ? " " + one.unit : "", gaps: s.gaps,
      }) + " ";
      description.append(line);
    });
  }

  function table(body) {
    tableBox.replaceChildren();
    if (!body.series.length) return;
    const data = uPlot.join(body.series.map((one) => [one.times, one.values]));
    const element = document.createElement("table"); element.className = "table";
    const head = element.createTHead().insertRow();
    [tableBox.dataset.timeLabel, ...body.series.map(label)].forEach((text) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = text; head.append(th); });
    const rows = element.createTBody();
    for (let i = data[0].length - 1; i >= 0; i--) {  // newest first, as the log
      const row = rows.insertRow();
      const time = document.createElement("th"); time.scope = "row"; time.textContent = plain(data[0][i]); row.append(time);
      for (let s = 1; s < data.length; s++) row.insertCell().textContent = data[s][i] == null ? (data[s][i] === null ? "—" : "") : String(data[s][i]);
    }
    const scroll = document.createElement("div"); scroll.className = "chart-table-scroll"; scroll.append(element);
    tableBox.append(scroll);
  }

  async function load() {
    const params = query();
    download.href = `${card.dataset.chartCsv}?${params}`;
    const mine = ++request;
    status.textContent = status.dataset.loading;
    let response, body;
    try {
      response = await fetch(`${card.dataset.chart}?${params}`, { credentials: "same-origin" });
      body = await response.json();
    } catch (error) {
      if (mine === request) status.textContent = `${status.dataset.error} ${error}`;
      return;
    }
    if (mine !== request) return;  // a newer range was asked for meanwhile
    if (!response.ok) { status.textContent = `${status.dataset.error} ${body.error}`; card.dataset.chartError = body.field; return; }
    delete card.dataset.chartError;
    loaded = body;
    status.textContent = !body.series.length ? status.dataset.empty
      : body.bucketSeconds > 1 ? format(status.dataset.averaged, { seconds: body.bucketSeconds, points: body.maxPoints }) : "";
    draw(body); describe(body); table(body);
    card.dataset.chartRange = body.range;
    card.dataset.chartLoaded = String(Number(card.dataset.chartLoaded || 0) + 1);
  }

  form.addEventListener("change", (event) => {
    if (event.target.name !== "range") return;
    custom.hidden = event.target.value !== "custom";
    if (event.target.value !== "custom") load();
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  toggle.addEventListener("click", () => {
    const showTable = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(showTable));
    toggle.textContent = showTable ? toggle.dataset.showChart : toggle.dataset.showTable;
    tableBox.hidden = !showTable;
    plot.parentElement.hidden = showTable;
  });
  // A new zone picked in the header: the axis, tooltip, description and table are drawn again in it.
  document.addEventListener("portal:timezone", () => { if (loaded) { draw(loaded); describe(loaded); table(loaded); } });
  let resizeTimer;
  new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (chart && loaded && !plot.parentElement.hidden) chart.setSize({ width: Math.max(280, plot.clientWidth), height: 260 }); }, 100);
  }).observe(card);
  load();
})();

// Every <time datetime data-local> in the user's chosen zone, ISO 8601 with its offset
// (2026-12-07T20:40:31+08:00); the server renders UTC (+00:00). The zone is picked in the header's
// "Time zone" menu (select[data-time-zone]): "Browser's zone" (the default) or an IANA zone from
// Intl.supportedValuesOf("timeZone"), kept in localStorage. Run again after each htmx swap and when the
// zone changes (then "portal:timezone" is dispatched on document, for scripts that draw times themselves).
(function () {
  "use strict";
  const KEY = "portal.timeZone";
  const pad = (n) => String(n).padStart(2, "0");

  function stored() {
    try { return window.localStorage.getItem(KEY) || ""; } catch (_) { return ""; }
  }
  function valid(zone) {
    try { new Intl.DateTimeFormat("en-US", { timeZone: zone }); return true; } catch (_) { return false; }
  }
  // The chosen IANA zone, or undefined for the browser's own.
  function chosen() {
    const zone = stored();
    return zone && valid(zone) ? zone : undefined;
  }

  // The wall-clock fields of a Date in a zone, and that zone's offset then (minutes east of UTC).
  function parts(when, zone) {
    if (!zone) {
      return {
        year: when.getFullYear(), month: when.getMonth() + 1, day: when.getDate(),
        hour: when.getHours(), minute: when.getMinutes(), second: when.getSeconds(),
        offset: -when.getTimezoneOffset(),
      };
    }
    const fields = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(when).forEach((part) => { fields[part.type] = Number(part.value); });
    const wall = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour % 24, fields.minute, fields.second);
    const whole = Math.floor(when.getTime() / 1000) * 1000;
    return {
      year: fields.year, month: fields.month, day: fields.day,
      hour: fields.hour % 24, minute: fields.minute, second: fields.second,
      offset: Math.round((wall - whole) / 60000),
    };
  }

  function offsetText(offset) {
    const sign = offset >= 0 ? "+" : "-";
    return `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  }

  function local(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return iso;
    const p = parts(when, chosen());
    return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${offsetText(p.offset)}`;
  }

  function convert(root) {
    root.querySelectorAll("time[datetime][data-local]").forEach((el) => {
      el.textContent = local(el.getAttribute("datetime"));
      el.title = el.getAttribute("datetime");
    });
  }

  // Chromium lists ICU's older names for a few renamed zones: shown under today's IANA names.
  const RENAMED = {
    "Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon", "Europe/Kiev": "Europe/Kyiv", "Atlantic/Faeroe": "Atlantic/Faroe",
  };
  function zones() {
    let list = [];
    try { list = Intl.supportedValuesOf("timeZone"); } catch (_) { list = []; }
    list = list.map((zone) => (RENAMED[zone] && valid(RENAMED[zone]) ? RENAMED[zone] : zone));
    if (!list.includes("UTC")) list = ["UTC", ...list];
    return [...new Set(list)].sort();
  }

  function setUpPicker(select) {
    const current = stored();
    const known = new Set(Array.from(select.options, (option) => option.value));
    const fragment = document.createDocumentFragment();
    for (const zone of zones()) {
      if (known.has(zone)) continue;
      const option = document.createElement("option");
      option.value = zone;
      option.textContent = zone;
      fragment.append(option);
    }
    select.append(fragment);
    select.value = current && valid(current) ? current : "";
    select.addEventListener("change", () => {
      try {
        if (select.value) window.localStorage.setItem(KEY, select.value);
        else window.localStorage.removeItem(KEY);
      } catch (_) { /* storage refused: the zone holds for this page only */ }
      convert(document);
      document.dispatchEvent(new CustomEvent("portal:timezone", { detail: { zone: chosen() || null } }));
    });
  }

  // A <time datetime data-local> for scripts that add times (live.js, device_live.js): it follows the zone.
  function element(iso) {
    const el = document.createElement("time");
    el.dateTime = iso;
    el.dataset.local = "";
    el.title = iso;
    el.textContent = local(iso);
    return el;
  }

  window.localTime = local;
  window.convertTimes = convert;
  window.timeElement = element;
  window.chosenTimeZone = () => chosen() || null;
  window.zonedParts = (when) => parts(when, chosen());
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("select[data-time-zone]").forEach(setUpPicker);
    convert(document);
  });
  document.addEventListener("htmx:afterSwap", (event) => convert(event.target));
})();

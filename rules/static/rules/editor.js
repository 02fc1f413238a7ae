// The rule editor: each condition row shows the fields of the kind chosen, and the rows in use plus
// an "Add a condition" button (up to the form's rows). Without script every field stays visible.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("[data-condition]"));
  const add = document.getElementById("add-condition");
  if (!rows.length || !add) return;
  // hidden and display both: the portal's .inline-form sets display, which would outrank [hidden]
  const setShown = (element, shown) => { element.hidden = !shown; element.style.display = shown ? "" : "none"; };
  const kindOf = (row) => row.querySelector("[data-kind] select").value;
  function showFields(row) {
    const kind = kindOf(row);
    row.querySelectorAll("[data-show-for]").forEach((part) => { setShown(part, part.dataset.showFor === kind); });
  }
  let shown = 1;
  rows.forEach((row, index) => { if (kindOf(row)) shown = index + 1; });
  function showRows() {
    rows.forEach((row, index) => setShown(row, index < shown));
    setShown(add, shown < rows.length);
  }
  rows.forEach((row) => {
    row.querySelector("[data-kind] select").addEventListener("change", () => showFields(row));
    showFields(row);
  });
  add.addEventListener("click", () => {
    const row = rows[shown];
    shown += 1;
    showRows();
    const kind = row.querySelector("[data-kind] select");
    if (!kind.value) kind.value = "data";
    showFields(row);
    kind.focus();
  });
  showRows();
})();

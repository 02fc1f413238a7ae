// Search-as-you-type pickers of devices, products and applications (applications/partials/picker.html):
// the ARIA 1.2 combobox pattern with a listbox. htmx fetches the options as the user types; this file only moves the active option (arrow
// keys, Home, End), chooses it (Enter or a click), and closes the list (Escape, or leaving the field).
// The choice goes into the hidden field, which fires "change" so an htmx form around it reacts, or is
// added as a line to a textarea (data-picker-append). No inline script: the page's CSP forbids it.
(function () {
  "use strict";

  const parts = (input) => {
    const picker = input.closest("[data-picker]");
    return {picker, list: document.getElementById(input.getAttribute("aria-controls")),
      hidden: picker.querySelector("[data-picker-value]")};
  };
  const options = (list) => Array.from(list.querySelectorAll('[role="option"]'));

  function open(input, list) {
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function close(input, list) {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    options(list).forEach((option) => option.setAttribute("aria-selected", "false"));
  }

  function activate(input, list, option) {
    options(list).forEach((each) => each.setAttribute("aria-selected", String(each === option)));
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(input, option) {
    const {picker, list, hidden} = parts(input);
    close(input, list);
    const target = picker.dataset.pickerAppend && document.getElementById(picker.dataset.pickerAppend);
    if (target) {
      const lines = target.value.split(/\s+/).filter(Boolean);
      if (!lines.includes(option.dataset.label)) lines.push(option.dataset.label);
      target.value = lines.join("\n");
      input.value = "";
      return;
    }
    input.value = option.dataset.label;
    if (hidden) {
      hidden.value = option.dataset.value;
      hidden.dispatchEvent(new Event("change", {bubbles: true}));
    }
  }

  document.addEventListener("keydown", (event) => {
    const input = event.target.closest && event.target.closest('[data-picker] [role="combobox"]');
    if (!input) return;
    const {list} = parts(input);
    const all = options(list);
    const current = all.indexOf(document.getElementById(input.getAttribute("aria-activedescendant")));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) {
        if (!all.length) return;
        open(input, list);
      }
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = current < 0 ? (step > 0 ? 0 : all.length - 1) : (current + step + all.length) % all.length;
      activate(input, list, all[next]);
    } else if ((event.key === "Home" || event.key === "End") && !list.hidden && all.length) {
      event.preventDefault();
      activate(input, list, all[event.key === "Home" ? 0 : all.length - 1]);
    } else if (event.key === "Enter") {
      if (!list.hidden && current >= 0) {
        event.preventDefault(); // choosing is not submitting the form
        choose(input, all[current]);
      } else if (!list.hidden) {
        event.preventDefault();
      }
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close(input, list);
    }
  });

  // Typing makes the earlier choice stale: the hidden field is cleared until an option is chosen. Text
  // erased to nothing is a choice of nothing (a list filter's "all"): the hidden field says so with "change".
  document.addEventListener("input", (event) => {
    const input = event.target.closest && event.target.closest('[data-picker] [role="combobox"]');
    if (!input) return;
    const {hidden} = parts(input);
    if (hidden && hidden.value) {
      hidden.value = "";
      if (!input.value.trim()) hidden.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });

  // The text field's own "change" (on leaving it) is not a choice: an htmx form listening for "change"
  // must not reload with the half-typed text.
  document.addEventListener("change", (event) => {
    if (event.target.closest && event.target.closest('[data-picker] [role="combobox"]')) event.stopPropagation();
  }, true);

  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest('[data-picker] [role="option"]');
    if (!option) return;
    event.preventDefault(); // keep the focus in the field
    const input = option.closest("[data-picker]").querySelector('[role="combobox"]');
    choose(input, option);
  });

  document.addEventListener("focusout", (event) => {
    const input = event.target.closest && event.target.closest('[data-picker] [role="combobox"]');
    if (input) close(input, parts(input).list);
  });

  // New options arrived: show them, none active yet.
  document.addEventListener("htmx:afterSwap", (event) => {
    const list = event.detail && event.detail.target;
    if (!list || !list.matches || !list.matches('[data-picker] [role="listbox"]')) return;
    const input = list.closest("[data-picker]").querySelector('[role="combobox"]');
    if (document.activeElement !== input) return;
    activate(input, list, null);
    open(input, list);
  });
})();

/* Disputes: progressive enhancement of the filing form and the withdraw button.
   Every page works without this file; the server checks everything again. */
(function () {
  "use strict";

  function setupFilingForm(form) {
    var whole = form.querySelector("input[name='whole']");
    var wholeFields = form.querySelector("[data-whole-fields]");
    var lines = form.querySelector("[data-line-fields]");

    function syncWhole() {
      if (!whole) { return; }
      if (wholeFields) { wholeFields.hidden = !whole.checked; }
      if (lines) { lines.classList.toggle("is-disabled", whole.checked); }
      var amount = form.querySelector("input[name='whole_amount']");
      if (whole.checked && amount && !amount.value && amount.dataset.charge) {
        amount.value = amount.dataset.charge;
      }
    }

    form.querySelectorAll("[data-dispute-line]").forEach(function (row) {
      var box = row.querySelector("input[type='checkbox']");
      var amount = row.querySelector("input.dispute-amount");
      row.querySelectorAll("select, input.dispute-amount").forEach(function (input) {
        input.classList.add("dispute-line__input");
        // Choosing a reason or typing an amount selects the charge.
        input.addEventListener("change", function () {
          if (box && !box.disabled && !box.checked) {
            box.checked = true;
            sync();
          }
        });
      });
      function sync() {
        row.classList.toggle("is-selected", !!(box && box.checked));
        if (box && box.checked && amount && !amount.value && amount.dataset.charge) {
          amount.value = amount.dataset.charge;
        }
      }
      if (box) { box.addEventListener("change", sync); }
      sync();
    });

    if (whole) {
      whole.addEventListener("change", syncWhole);
      syncWhole();
    }
    var summary = form.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-dispute-form]").forEach(setupFilingForm);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  });
})();

/* Invoice centre: row selection, the Actions menus, the print page and export progress.
   Loaded with defer; no inline scripts (the Content-Security-Policy forbids them). */
(function () {
  "use strict";

  // --- Row selection on the invoice tables -------------------------------------------------
  var form = document.querySelector("[data-bulk-form]");
  if (form) {
    var pageBox = form.querySelector("[data-select-page]");
    var allMatching = form.querySelector("[data-select-all-matching]");
    var countText = form.querySelector("[data-selected-count]");
    var rows = Array.prototype.slice.call(form.querySelectorAll("[data-row-select]"));

    var refresh = function () {
      var checked = rows.filter(function (box) { return box.checked; }).length;
      rows.forEach(function (box) {
        var tr = box.closest("tr");
        if (tr) { tr.classList.toggle("is-selected", box.checked || allMatching.checked); }
      });
      if (pageBox) {
        pageBox.checked = checked > 0 && checked === rows.length;
        pageBox.indeterminate = checked > 0 && checked < rows.length;
      }
      if (countText) {
        if (allMatching && allMatching.checked) {
          countText.textContent = allMatching.parentNode.textContent.trim();
        } else if (checked === 1) {
          countText.textContent = countText.dataset.templateOne;
        } else if (checked > 1) {
          countText.textContent = countText.dataset.templateMany.replace("%(count)s", String(checked));
        }
      }
    };

    if (pageBox) {
      pageBox.hidden = false;
      pageBox.addEventListener("change", function () {
        rows.forEach(function (box) { box.checked = pageBox.checked; });
        refresh();
      });
    }
    rows.forEach(function (box) { box.addEventListener("change", refresh); });
    if (allMatching) {
      allMatching.addEventListener("change", function () {
        rows.forEach(function (box) { box.disabled = allMatching.checked; });
        if (pageBox) { pageBox.disabled = allMatching.checked; }
        refresh();
      });
    }
    refresh();
  }

  // --- Actions menus: one open at a time; Escape closes and returns focus --------------------
  var menus = Array.prototype.slice.call(document.querySelectorAll("[data-actions-menu]"));
  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (!menu.open) { return; }
      menus.forEach(function (other) { if (other !== menu) { other.open = false; } });
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
  });

  // --- The print-ready page opens the print dialog ------------------------------------------
  if (document.body.hasAttribute("data-autoprint")) {
    window.addEventListener("load", function () { window.print(); });
    var printButton = document.querySelector("[data-print]");
    if (printButton) {
      printButton.addEventListener("click", function () { window.print(); });
    }
  }

  // --- Export job progress --------------------------------------------------------------------
  var job = document.querySelector("[data-export-status-url]");
  if (job) {
    var bar = job.querySelector("progress");
    var label = job.querySelector("[data-export-label]");
    var done = job.querySelector("[data-export-done]");
    var link = job.querySelector("[data-export-download]");
    var failure = job.querySelector("[data-export-error]");
    var note = job.querySelector("[data-export-note]");
    var poll = function () {
      fetch(job.dataset.exportStatusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { window.setTimeout(poll, 3000); return; }
          if (bar) { bar.max = Math.max(data.total, 1); bar.value = data.done; }
          if (label) { label.textContent = data.status_label; }
          // "Waiting to start" / "Started again" describe the state the page was rendered in.
          if (note && data.status !== job.dataset.exportStatus) { note.hidden = true; }
          if (done) { done.textContent = data.done + " / " + data.total; }
          if (data.status === "ready" && link) {
            link.href = data.download_url;
            link.hidden = false;
            link.focus();
          } else if (data.status === "failed" || data.status === "expired") {
            if (failure) { failure.textContent = data.error; failure.hidden = false; }
          } else {
            window.setTimeout(poll, 1500);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    // Finished (ready, failed, or expired after BC_EXPORT_RETENTION_DAYS): nothing to poll.
    if (["ready", "failed", "expired"].indexOf(job.dataset.exportStatus) === -1) {
      window.setTimeout(poll, 1000);
    }
  }
})();

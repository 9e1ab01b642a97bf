/* Administration pages: hide the accounts/plans choice when the role is Administrator
   (Administrators see everything), and submit the company switcher on change. */
(function () {
  "use strict";

  function syncScope(form) {
    var scope = form.querySelector("[data-scope]");
    var checked = form.querySelector("[data-role-field] input[type=radio]:checked");
    if (!scope) return;
    scope.hidden = !!checked && checked.value === "administrator";
  }

  document.querySelectorAll(".acct-scope-form").forEach(function (form) {
    form.querySelectorAll("[data-role-field] input[type=radio]").forEach(function (radio) {
      radio.addEventListener("change", function () { syncScope(form); });
    });
    syncScope(form);
  });

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();

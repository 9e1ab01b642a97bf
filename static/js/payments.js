/* Payments: show the fields of the chosen payment type, hide new-method fields when a wallet
   method is chosen, block a second submit of a payment, and (when configured) Stripe Elements. */
(function () {
  "use strict";

  function syncKinds(container) {
    var checked = container.querySelector("input[type=radio][name$='kind']:checked");
    var kind = checked ? checked.value : "";
    container.querySelectorAll(".pm-group").forEach(function (group) {
      var kinds = (group.getAttribute("data-kinds") || "").split(" ");
      group.hidden = kind !== "" && kinds.indexOf(kind) === -1;
    });
  }

  document.querySelectorAll("[data-pm-fields]").forEach(function (container) {
    container.addEventListener("change", function () { syncKinds(container); });
    syncKinds(container);
  });

  document.querySelectorAll("[data-pay-form]").forEach(function (form) {
    var newBlock = form.querySelector("[data-pm-new]");
    function syncMethod() {
      if (!newBlock) { return; }
      var chosen = form.querySelector("input[name=method]:checked");
      newBlock.hidden = !!chosen && chosen.value !== "new";
    }
    form.addEventListener("change", syncMethod);
    syncMethod();
    // One submit per attempt: the server also refuses a second charge (idempotency key).
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitted") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-submitted", "1");
      form.querySelectorAll("[data-pay-button]").forEach(function (button) {
        button.setAttribute("aria-busy", "true");
        // Disable after the submit has been collected, so the button's own name/value is sent.
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  });

  var mount = document.getElementById("stripe-element");
  if (mount && window.Stripe) {
    var stripe = window.Stripe(mount.getAttribute("data-stripe-key"));
    var elements = stripe.elements();
    var card = elements.create("card");
    card.mount(mount);
    var form = mount.closest("form");
    var tokenField = form.querySelector("input[name='" + mount.getAttribute("data-token-field") + "']");
    form.addEventListener("submit", function (event) {
      if (tokenField.value) { return; }
      event.preventDefault();
      stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
        if (result.error) {
          mount.setAttribute("aria-invalid", "true");
          return;
        }
        tokenField.value = result.paymentMethod.id;
        form.submit();
      });
    });
  }
})();

// My AutoPay: ask before cancelling AutoPay (forms with data-confirm). No inline scripts (CSP).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// A form with a partner picker and a deal picker offers only the chosen partner's deals
// (options carry data-partner); with no partner chosen, every deal. A deal that no longer fits
// is unselected, so the form never sends a deal of another partner (the server refuses it too).
(function () {
  function narrow(form) {
    var partner = form.querySelector("select[name=partner_id]");
    var deal = form.querySelector("select[name=deal_id]");
    if (!partner || !deal) return;
    var chosen = partner.value;
    Array.prototype.forEach.call(deal.options, function (option) {
      var fits = !option.value || !chosen || option.dataset.partner === chosen;
      option.hidden = !fits;
      option.disabled = !fits;
      if (!fits && option.selected) deal.value = "";
    });
  }
  window.dossierNarrowDeals = narrow;
  document.addEventListener("change", function (event) {
    if (event.target.name === "partner_id" && event.target.form) narrow(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.forms, narrow);
  });
})();

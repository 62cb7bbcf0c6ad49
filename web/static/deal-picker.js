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
  // A person picker follows the partner: its options come from the partner's persons
  // (the partner field's data-persons names the JSON list); the chosen person is kept if still there.
  function refillPersons(form, partnerField) {
    var person = form.querySelector("select[name=person_id]");
    var source = partnerField.dataset.persons;
    if (!person || !source) return;
    var keep = person.value;
    var fill = function (items) {
      while (person.options.length > 1) person.remove(1);
      items.forEach(function (item) {
        var option = new Option(item.name, item.id);
        if (String(item.id) === keep) option.selected = true;
        person.add(option);
      });
    };
    if (!/^[0-9]+$/.test(partnerField.value)) { fill([]); return; }
    fetch(source + "?partner_id=" + encodeURIComponent(partnerField.value), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {items: []}; })
      .then(function (body) { fill(body.items || []); });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form) return;
    if (event.target.name === "partner_id") {
      narrow(form);
      refillPersons(form, event.target);
    }
    if (event.target.name === "deal_id" && event.target.tagName === "SELECT") {
      // choosing a deal chooses its partner when none is chosen yet
      var option = event.target.selectedOptions[0];
      var partner = form.querySelector("select[name=partner_id]");
      if (option && option.dataset.partner && partner && !partner.value) {
        partner.value = option.dataset.partner;
        narrow(form);
        refillPersons(form, partner);
      }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.forms, narrow);
  });
})();

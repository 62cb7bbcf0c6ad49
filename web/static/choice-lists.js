// A select with data-options="<template id>" gets that template's options when the page has
// loaded: a page with many pickers (the triage queue) sends the options once, not once per
// row (mail/_pickers.html). deal-picker.js then narrows each deal picker to its partner.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var selects = document.querySelectorAll("select[data-options]");
    Array.prototype.forEach.call(selects, function (select) {
      var template = document.getElementById(select.dataset.options);
      if (template) select.appendChild(template.content.cloneNode(true));
    });
    Array.prototype.forEach.call(document.forms, function (form) {
      if (window.dossierNarrowDeals) window.dossierNarrowDeals(form);
    });
  });
})();

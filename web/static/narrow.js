// Phones (390 px): a list table becomes stacked rows, each cell labelled with its column's
// heading; a filter bar folds behind a "Filters" button unless a filter is in use.
(function () {
  var narrow = window.matchMedia("(max-width: 700px)");

  function labelCells(table) {
    var heads = table.tHead ? table.tHead.rows[0] : null;
    if (!heads) return;
    var names = Array.prototype.map.call(heads.cells, function (cell) {
      return cell.textContent.replace(/\s+/g, " ").trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (!cell.hasAttribute("data-label") && names[column]) {
            cell.setAttribute("data-label", names[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
    table.classList.add("stack");
  }

  function foldFilters(form) {
    if (form.dataset.folded) return;
    form.dataset.folded = "1";
    var used = Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "sort" && el.type !== "hidden" && el.value;
    }).length;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "fold-toggle";
    var label = form.getAttribute("data-fold-label") || "Filters";
    button.textContent = used ? label + " (" + used + ")" : label;
    button.setAttribute("aria-expanded", used ? "true" : "false");
    if (!used) form.classList.add("folded");
    button.addEventListener("click", function () {
      var open = form.classList.toggle("folded") === false;
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
    form.insertBefore(button, form.firstChild);
  }

  function apply() {
    document.querySelectorAll("table.list").forEach(labelCells);
    if (narrow.matches) document.querySelectorAll("form.filters").forEach(foldFilters);
  }
  document.addEventListener("DOMContentLoaded", apply);
  narrow.addEventListener("change", apply);
})();

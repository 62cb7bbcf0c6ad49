// The pipeline board: a deal card dropped on another stage's column is moved by its own form
// (the same POST as choosing the stage and pressing Move), so the server's rules decide.
(function () {
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".board-column.drop").forEach(function (c) { c.classList.remove("drop"); });
  });
  function column(event) {
    return event.target.closest && event.target.closest(".board-column");
  }
  document.addEventListener("dragover", function (event) {
    var target = column(event);
    if (!dragged || !target || !target.dataset.stage) return;
    event.preventDefault();
    target.classList.add("drop");
  });
  document.addEventListener("dragleave", function (event) {
    var target = column(event);
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("drop");
  });
  document.addEventListener("drop", function (event) {
    var target = column(event);
    if (!dragged || !target || !target.dataset.stage) return;
    event.preventDefault();
    var form = dragged.querySelector("form.move");
    if (form.stage.value === target.dataset.stage) return;
    form.stage.value = target.dataset.stage;
    form.submit();
  });
})();

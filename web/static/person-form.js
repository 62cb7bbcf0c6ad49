// The person form: a suggested salutation fills the field when clicked (the server suggests
// one on save when the field is left empty). A file, not inline: the Content-Security-Policy
// (web/security.py) allows no inline script.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-fill]");
  if (!button) return;
  const input = document.getElementById(button.dataset.fill);
  if (input) {
    input.value = button.textContent.trim();
    input.focus();
  }
});

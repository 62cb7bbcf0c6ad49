// The mail account form: choosing a provider (connector/presets.py, in the options' data-*
// attributes) fills its IMAP and SMTP servers, ports and security, which stay editable, and
// shows what to do at the provider first (an app password, access for mail programs). Without
// this script the form still works: the servers left empty are filled in when it is sent.
// Loaded as a file: the Content-Security-Policy (web/security.py) allows no inline script.
(function () {
  "use strict";
  var form = document.getElementById("account-form");
  var select = document.getElementById("acc-preset");
  var hint = document.getElementById("acc-preset-hint");
  if (!form || !select || !hint) {
    return;
  }
  var general = hint.textContent;
  var fields = ["host", "port", "security", "smtp_host", "smtp_port", "smtp_security"];
  select.addEventListener("change", function () {
    var option = select.options[select.selectedIndex];
    if (!option.value) {
      hint.textContent = general;
      return;
    }
    fields.forEach(function (name) {
      var input = form.elements.namedItem(name);
      var value = option.getAttribute("data-" + name.replace("_", "-"));
      if (input && value !== null) {
        input.value = value;
      }
    });
    hint.textContent = option.getAttribute("data-hint") || general;
  });
})();

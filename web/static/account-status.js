// The mail account page while its connection test or sync runs in the background: asks the
// account's status (GET .../status, JSON) every second and a half and reloads the page when it
// is done, so the result shows without anyone waiting on a request. Loaded as a file: the
// Content-Security-Policy (web/security.py) allows no inline script.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : { state: "done" };
      })
      .then(function (status) {
        if (status.state === "testing" || status.state === "syncing") {
          window.setTimeout(poll, 1500);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1500);
})();

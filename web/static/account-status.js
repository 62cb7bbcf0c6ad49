// The mail account page: "Test the connection" and "Sync now" run in the background and the
// page follows them without a reload. The buttons' forms (data-background) are sent with
// fetch; then GET .../status (JSON) is asked every second while something runs, and its lines
// (queued, testing, messages read so far, the result or what to do about an error, already in
// the reader's language) replace the status box. When it is done, the account's details (last
// sync, folders read) are fetched again and swapped in. Without this script the forms post as
// usual and the page refreshes itself while something runs (a <noscript> refresh).
// Loaded as a file: the Content-Security-Policy (web/security.py) allows no inline script.
(function () {
  "use strict";
  var box = document.getElementById("account-status");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var polling = false;

  function render(status) {
    box.textContent = "";
    status.lines.forEach(function (line) {
      var div = document.createElement("div");
      div.className = "flash flash-" + line.kind;
      div.setAttribute("role", line.kind === "error" ? "alert" : "status");
      div.textContent = line.text;
      box.appendChild(div);
    });
  }

  function refreshDetails() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        var here = document.querySelector("[data-account-details]");
        if (!html || !here) {
          return;
        }
        var fresh = new DOMParser()
          .parseFromString(html, "text/html")
          .querySelector("[data-account-details]");
        if (fresh) {
          here.replaceWith(document.importNode(fresh, true));
        }
      });
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (status) {
        render(status);
        if (status.running) {
          window.setTimeout(poll, 1000);
        } else {
          polling = false;
          refreshDetails();
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  function follow() {
    if (!polling) {
      polling = true;
      window.setTimeout(poll, 500);
    }
  }

  document.querySelectorAll("form[data-background]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) {
        button.disabled = true;
      }
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (status) {
          render(status);
          follow();
        })
        .catch(function () {
          form.submit(); // the page's own way: post and come back
        })
        .finally(function () {
          if (button) {
            button.disabled = false;
          }
        });
    });
  });

  if (box.hasAttribute("data-running")) {
    follow();
  }
})();

// The counter's second screen (書かない窓口): it follows the staff page by polling the
// visit's state (and reloads when something changed, unless the resident is typing), and
// each checked form can be signed with the card: the server opens a `sign` ceremony, the
// local card agent runs it with the signature password typed here (the password field has
// no name: it goes to the agent and the card only), then the form posts to the server,
// which takes the CMS its ceremony verified.
(function () {
  "use strict";
  var screen = document.getElementById("counter-screen");
  if (!screen) { return; }
  var agent = screen.getAttribute("data-agent");
  var box = document.getElementById("sign-message");
  var busy = false;

  function show(text) {
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    box.hidden = false;
    box.focus();
  }

  function typing() {
    var fields = screen.querySelectorAll(".sign-password");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value || fields[i] === document.activeElement) { return true; }
    }
    return false;
  }

  function poll() {
    if (busy || typing()) { return; }
    fetch(screen.getAttribute("data-state-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.state === "closed" && screen.getAttribute("data-desk-url")) {
          window.location.assign(screen.getAttribute("data-desk-url")); // back to standby for the next resident
        } else if (data.state && data.state !== screen.getAttribute("data-state") && !busy && !typing()) {
          window.location.reload();
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }
  window.setInterval(poll, 3000);

  Array.prototype.forEach.call(document.querySelectorAll("form.counter-sign"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      var field = form.querySelector(".sign-password");
      var password = field.value.trim().toUpperCase();
      field.value = "";
      busy = true;
      box.hidden = true;
      var csrf = form.elements.csrfmiddlewaretoken.value;
      fetch(form.getAttribute("data-start"), {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, Accept: "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (opened) {
        if (!opened.ok) { throw { server: opened.data.error || "" }; }
        return fetch(agent + "/sign", {
          method: "POST", headers: { "Content-Type": "application/json" }, mode: "cors",
          body: JSON.stringify({ url: opened.data.url, password: password })
        }).then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        }, function () { throw { agent: true }; });
      }).then(function (answer) {
        var data = answer.data || {};
        if (answer.ok) { form.submit(); return; }
        busy = false;
        if (data.reason === "wrong_password") {
          show(screen.getAttribute("data-msg-wrong").replace("{n}", String(data.tries_left)));
        } else if (data.reason === "locked") {
          show(screen.getAttribute("data-msg-locked"));
        } else if (data.reason === "bad_password") {
          show(screen.getAttribute("data-msg-bad"));
        } else if (data.reason === "refused" || data.reason === "bad_request") {
          show(screen.getAttribute("data-msg-refused"));
        } else {
          show(screen.getAttribute("data-msg-removed"));
        }
      }).catch(function (failure) {
        busy = false;
        if (failure && failure.server) { show(failure.server); return; }
        show(screen.getAttribute(failure && failure.agent ? "data-msg-agent" : "data-msg-refused"));
      });
    });
  });
})();

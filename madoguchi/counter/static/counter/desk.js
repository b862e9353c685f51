// The resident-facing screen of a counter desk (書かない窓口): standby, the PIN pad while the
// staff member has asked for the PIN, or the desk's visit (it goes to that visit's screen).
// The PIN typed here goes to the local card agent only; what the agent read (never the PIN)
// goes to the server, which verifies it and opens the visit — the staff page follows.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) { return; }
  var idle = document.getElementById("desk-idle");
  var pad = document.getElementById("desk-pin");
  var form = document.getElementById("desk-pin-form");
  var input = document.getElementById("desk-pin-input");
  var box = document.getElementById("desk-message");
  var status = document.getElementById("desk-status");
  var state = root.getAttribute("data-state");
  var busy = false;

  function text(name) { return root.getAttribute("data-msg-" + name) || ""; }

  function show(message) {
    status.textContent = "";
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    box.appendChild(p);
    box.hidden = false;
    box.focus();
  }

  function apply(data) {
    if (data.state === "visit" && data.screen) {
      window.location.assign(data.screen);
      return;
    }
    if (data.state === state) { return; }
    state = data.state;
    idle.hidden = state === "pin";
    pad.hidden = state !== "pin";
    box.hidden = true;
    status.textContent = "";
    if (state === "pin") { input.focus(); }
  }

  function poll() {
    if (busy || input.value) { return; }
    fetch(root.getAttribute("data-state-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(apply)
      .catch(function () { /* the next poll tries again */ });
  }
  window.setInterval(poll, 1500);

  function json(response) {
    return response.json().then(function (data) { return { ok: response.ok, data: data || {} }; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var pin = input.value.trim();
    input.value = ""; // typed once, for this read only
    busy = true;
    box.hidden = true;
    status.textContent = text("reading");
    fetch(root.getAttribute("data-agent") + "/text", {
      method: "POST", headers: { "Content-Type": "application/json" }, mode: "cors", body: JSON.stringify({ pin: pin })
    }).then(json, function () { throw { agent: true }; }).then(function (read) {
      if (!read.ok) { throw { reason: read.data.reason, tries: read.data.tries_left }; }
      var body = new FormData();
      body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
      ["text_record", "text_integrity", "text_cv_certificate"].forEach(function (name) {
        body.append(name, read.data[name] || "");
      });
      return fetch(root.getAttribute("data-read-url"), { method: "POST", credentials: "same-origin", body: body })
        .then(json);
    }).then(function (opened) {
      if (opened.ok && opened.data.screen) {
        window.location.assign(opened.data.screen);
        return;
      }
      busy = false;
      show(opened.data.error || text("removed"));
    }).catch(function (failure) {
      busy = false;
      failure = failure || {};
      if (failure.agent) {
        show(text("agent"));
      } else if (failure.reason === "wrong_pin") {
        show(text("wrong").replace("{n}", String(failure.tries)));
      } else if (failure.reason === "locked") {
        show(text("locked"));
      } else if (failure.reason === "bad_pin") {
        show(text("bad"));
      } else {
        show(text("removed"));
      }
      input.focus();
    });
  });
})();

// 書かない窓口: ask the local card agent on this PC to read the card — the card face with
// 照合番号B (#counter-read), or the text AP with the resident's 4-digit PIN (#counter-pin) —
// put the raw bytes it returns into the form and send them to the server, which verifies
// them itself (the agent and this page are not trusted with the result). The PIN field has
// no name: the PIN goes to the agent only, never to the server. Without this script the
// forms post without bytes and the server says the card was not read.
(function () {
  "use strict";

  function setup(form, path, body, fields, wrongReason) {
    if (!form) { return; }
    var box = document.getElementById("agent-message");
    var agent = form.getAttribute("data-agent");
    var reading = false;

    function show(text) {
      box.textContent = "";
      var p = document.createElement("p");
      p.textContent = text;
      box.appendChild(p);
      box.hidden = false;
      box.focus();
    }

    form.addEventListener("submit", function (event) {
      if (form.elements.text_record.value) { return; } // the bytes are in: let the form go to the server
      event.preventDefault();
      if (reading) { return; }
      reading = true;
      box.hidden = true;
      fetch(agent + path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body()), mode: "cors"
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        reading = false;
        var data = answer.data || {};
        if (answer.ok) {
          fields.forEach(function (name) { form.elements[name].value = data[name] || ""; });
          form.submit();
          return;
        }
        if (data.reason === wrongReason) {
          show(form.getAttribute("data-msg-wrong").replace("{n}", String(data.tries_left)));
        } else if (data.reason === "locked") {
          show(form.getAttribute("data-msg-locked"));
        } else if (data.reason === "bad_code" || data.reason === "bad_pin") {
          show(form.getAttribute("data-msg-bad"));
        } else {
          show(form.getAttribute("data-msg-removed"));
        }
      }).catch(function () {
        reading = false;
        show(form.getAttribute("data-msg-agent"));
      });
    });
  }

  var read = document.getElementById("counter-read");
  function value(name) {
    var el = read.elements[name];
    return el ? el.value.trim() : "";
  }
  setup(read, "/face", function () {
    return value("code_b") ? { code_b: value("code_b") }
      : { birth: value("birth"), expiry_year: value("expiry_year"), security_code: value("security_code") };
  }, ["record", "cv_certificate", "text_record", "text_integrity", "text_cv_certificate"], "wrong_code");

  // Waiting for the PIN typed on the desk's screen: the staff page follows the visit it opens
  // (or shows the button again when the request ran out).
  var waiting = document.getElementById("desk-waiting");
  if (waiting) {
    window.setInterval(function () {
      fetch(waiting.getAttribute("data-state-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (data.state === "visit" && data.page) {
            window.location.assign(data.page);
          } else if (data.state !== "pin") {
            window.location.reload();
          }
        })
        .catch(function () { /* the next poll tries again */ });
    }, 1500);
  }

  var pin = document.getElementById("counter-pin-input");
  setup(document.getElementById("counter-pin"), "/text", function () {
    var typed = pin.value.trim();
    pin.value = ""; // typed once, for this read only
    return { pin: typed };
  }, ["text_record", "text_integrity", "text_cv_certificate"], "wrong_pin");
})();

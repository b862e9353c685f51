// The library's self-checkout page: asks the local agent (madoguchi terminal run --library,
// on 127.0.0.1 only, answering this page's origin only) for the patron number of the card
// in the reader, read without a PIN. The number leaves the screen after a minute or when the
// resident presses 終わる, so the next person does not see it.
(function () {
  "use strict";
  var root = document.getElementById("self-checkout");
  if (!root) {
    return;
  }
  var agent = root.getAttribute("data-agent");
  var button = document.getElementById("self-checkout-read");
  var done = document.getElementById("self-checkout-done");
  var result = document.getElementById("self-checkout-result");
  var message = document.getElementById("self-checkout-message");
  var patron = document.getElementById("self-checkout-patron");
  var number = document.getElementById("self-checkout-number");
  var timer = null;

  function text(name) {
    return root.getAttribute("data-msg-" + name) || root.getAttribute("data-msg-error");
  }

  function say(kind, words, patronNumber) {
    result.className = "gate-result gate-result--" + kind;
    message.textContent = words;
    number.textContent = patronNumber || "";
    patron.hidden = !patronNumber;
    done.hidden = !patronNumber;
  }

  function clear() {
    window.clearTimeout(timer);
    say("idle", "");
    button.focus();
  }

  // The agent passes the server's answer through: 200 the number, 404 not linked, 403 the
  // certificate refused (revoked, expired…), 409 no card, 502 the server unreachable.
  function meaning(status, answer) {
    if (status === 200 && answer.patron_number) {
      return ["ok", text("found"), answer.patron_number];
    }
    if (status === 404 && answer.error === "not_linked") {
      return ["ng", text("not-linked")];
    }
    if (status === 403 && answer.error === "revoked") {
      return ["ng", text("revoked")];
    }
    if (status === 403 && answer.error !== "not_offered") {  // expired, untrusted, not an authentication certificate
      return ["ng", text("invalid")];
    }
    if (status === 409) {
      return ["ng", text("no-card")];
    }
    return ["ng", text("error")];
  }

  button.addEventListener("click", function () {
    window.clearTimeout(timer);
    button.disabled = true;
    say("busy", text("reading"));
    fetch(agent + "/patron", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
      .then(function (response) {
        return response.json().then(function (answer) { return meaning(response.status, answer); },
                                     function () { return ["ng", text("error")]; });
      })
      .then(function (shown) { say(shown[0], shown[1], shown[2]); },
            function () { say("ng", text("agent")); })
      .then(function () {
        button.disabled = false;
        if (!patron.hidden) {
          timer = window.setTimeout(clear, Number(root.getAttribute("data-clear-after") || "60") * 1000);
          done.focus();
        } else {
          button.focus();
        }
      });
  });
  done.addEventListener("click", clear);
})();

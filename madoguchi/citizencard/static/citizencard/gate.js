// The kiosk page of a card terminal: asks the local agent (madoguchi terminal run, on
// 127.0.0.1 only, answering this page's origin only) to read the card without a PIN and
// shows its offline decision. The messages come from the page (translated by the server).
(function () {
  "use strict";
  var root = document.getElementById("gate");
  if (!root) {
    return;
  }
  var agent = root.getAttribute("data-agent");
  var button = document.getElementById("gate-read");
  var result = document.getElementById("gate-result");

  function text(name) {
    return root.getAttribute("data-msg-" + name) || root.getAttribute("data-msg-error");
  }

  function say(kind, message) {
    result.className = "gate-result gate-result--" + kind;
    result.textContent = message;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("busy", text("reading"));
    fetch(agent + "/tap", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        say(answer.admitted ? "ok" : "ng", text(String(answer.reason || "error").replace(/_/g, "-")));
      })
      .catch(function () { say("ng", text("agent")); })
      .then(function () {
        button.disabled = false;
        button.focus();
      });
  });
})();

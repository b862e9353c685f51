// The 印鑑登録証 check at the counter: asks the counter's local card agent (madoguchi terminal
// run, answering this site's origin only) for the card's authentication certificate, read
// without a PIN, and submits it to the server's check. No certificate is typed or pasted.
(function () {
  "use strict";
  var root = document.getElementById("seal-reader");
  var form = document.getElementById("seal-form");
  if (!root || !form) {
    return;
  }
  var button = document.getElementById("seal-read");
  var message = document.getElementById("seal-read-message");
  var field = form.querySelector("[name=certificate]");

  function say(name) {
    message.textContent = root.getAttribute("data-msg-" + name) || "";
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("reading");
    fetch(root.getAttribute("data-agent") + "/certificate",
          {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
      .then(function (response) {
        return response.json().then(function (answer) {
          if (response.ok && answer.certificate) {
            field.value = answer.certificate;
            form.submit();  // the page comes back with the check's answer
            return;
          }
          say("no-card");
          button.disabled = false;
        });
      })
      .catch(function () {
        say("agent");
        button.disabled = false;
      });
  });
})();

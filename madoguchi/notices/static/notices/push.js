// 「通知を受け取る」: registers the service worker (scope /<code>/), asks the browser's
// permission on the resident's click, subscribes with the municipality's VAPID key and
// posts the subscription to the server. A static file: the CSP allows no inline script.
(function () {
  "use strict";
  var status = document.getElementById("push-status");
  var button = document.getElementById("push-opt-in");
  if (!status || !button) return;
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = status.dataset.unsupported || "";
    return;
  }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function keyBytes(base64url) {
    var s = base64url.replace(/-/g, "+").replace(/_/g, "/");
    s += "===".slice((s.length + 3) % 4);
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  var registration = navigator.serviceWorker.register(status.dataset.swUrl).then(function (reg) {
    status.dataset.registered = "true";
    button.hidden = false;
    return reg;
  });
  button.addEventListener("click", function () {
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { status.textContent = status.dataset.denied || ""; return; }
      return Promise.all([registration, fetch(status.dataset.keyUrl).then(function (r) { return r.json(); })])
        .then(function (both) {
          return both[0].pushManager.subscribe({userVisibleOnly: true,
            applicationServerKey: keyBytes(both[1].applicationServerKey)});
        })
        .then(function (subscription) {
          return fetch(status.dataset.subscribeUrl, {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
            body: JSON.stringify(subscription.toJSON())});
        })
        .then(function (response) {
          if (response && response.ok) window.location.reload();
          else status.textContent = status.dataset.failed || "";
        });
    }).catch(function () { status.textContent = status.dataset.failed || ""; });
  });
})();

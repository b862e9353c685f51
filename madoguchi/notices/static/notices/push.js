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
  function post(subscription, key) {
    var body = subscription.toJSON();
    body.applicationServerKey = key;
    return fetch(status.dataset.subscribeUrl, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(body)});
  }
  function currentKey() {
    return fetch(status.dataset.keyUrl).then(function (r) { return r.json(); })
      .then(function (k) { return k.applicationServerKey; });
  }
  function sameKey(subscription, key) {
    var had = subscription.options && subscription.options.applicationServerKey;
    if (!had) return true;
    var a = new Uint8Array(had), b = keyBytes(key);
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  var registration = navigator.serviceWorker.register(status.dataset.swUrl).then(function (reg) {
    status.dataset.registered = "true";
    button.hidden = false;
    // After a key rotation: a device subscribed with an earlier key subscribes again with
    // the current one (the server keeps pushing with the old key until it does).
    if (Notification.permission === "granted") {
      Promise.all([reg.pushManager.getSubscription(), currentKey()]).then(function (both) {
        var old = both[0], key = both[1];
        if (!old || sameKey(old, key)) return;
        return old.unsubscribe().then(function () {
          return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(key)});
        }).then(function (fresh) { return post(fresh, key); });
      }).catch(function () { /* the next visit tries again */ });
    }
    return reg;
  });
  button.addEventListener("click", function () {
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { status.textContent = status.dataset.denied || ""; return; }
      var key;
      return Promise.all([registration, currentKey()])
        .then(function (both) {
          key = both[1];
          return both[0].pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(key)});
        })
        .then(function (subscription) { return post(subscription, key); })
        .then(function (response) {
          if (response && response.ok) window.location.reload();
          else status.textContent = status.dataset.failed || "";
        });
    }).catch(function () { status.textContent = status.dataset.failed || ""; });
  });
})();

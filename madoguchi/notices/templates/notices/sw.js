// The portal's service worker (scope /{{ municipality.code }}/): shows a notice that
// arrives by Web Push (a title, the category, a link; nothing personal) and opens its link.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "{{ municipality.name|escapejs }}", {
    body: data.category || "",
    icon: "{{ icon_url|escapejs }}",
    data: {url: data.url || "/{{ municipality.code }}/notices/"}
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});

// The procedure builder works without this file (every change is a plain form POST).
// It only helps: focus moves to what to fix after a failed save; on a field's page the
// settings that do not apply to the chosen kind are hidden, and the preview pane follows
// what is typed (the server draws it with the residents' renderer; nothing is saved).
(function () {
  "use strict";
  var KINDS = {
    max_length: ["text", "textarea"], minimum: ["number"], maximum: ["number"],
    min_rows: ["group"], max_rows: ["group"], choices: ["radio", "select", "checkboxes"],
    min_days: ["date"], max_days: ["date"]
  };

  function showSettings(form) {
    var kind = form.querySelector("select[name='widget']");
    if (!kind) { return; }
    Object.keys(KINDS).forEach(function (name) {
      var box = form.querySelector("[data-setting='" + name + "']");
      if (box) { box.hidden = KINDS[name].indexOf(kind.value) === -1; }
    });
  }

  function livePreview(form, pane) {
    var timer = null;
    var seq = 0;
    function refresh() {
      var body = new FormData(form);
      body.set("op", "preview");
      var mine = ++seq;
      fetch(window.location.pathname, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.status === 200 ? response.text() : null; })
        .then(function (html) {
          if (html !== null && mine === seq) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            pane.replaceChildren.apply(pane, Array.prototype.slice.call(doc.body.childNodes));
            pane.setAttribute("data-updated", String(mine));
          }
        })
        .catch(function () { /* the pane keeps the last drawing */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("field-errors");
    if (summary) { summary.focus(); }
    var form = document.querySelector("[data-live-form]");
    if (!form) { return; }
    showSettings(form);
    form.addEventListener("change", function (event) {
      if (event.target.name === "widget") { showSettings(form); }
    });
    var pane = document.querySelector("[data-live-preview]");
    if (pane && window.fetch && window.DOMParser) { livePreview(form, pane); }
  });
}());

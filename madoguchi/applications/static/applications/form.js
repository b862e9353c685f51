/* The resident's application form (progressive enhancement; the form works without it):
 * - the error summary takes the focus, and its links focus the field they name;
 * - a conditional field is shown only while its condition holds (hidden and disabled
 *   otherwise, so it takes no Tab stop and sends nothing);
 * - a repeatable group's 「追加」 and 「削除」 buttons add and remove blocks in place.
 * Static and CSP-clean: no inline script, no eval, no style attributes. */
(function () {
  "use strict";

  function focusSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input) return;
      event.preventDefault();
      var fieldset = input.closest("fieldset");
      var label = document.querySelector("label[for='" + input.id + "']");
      var shown = fieldset && input.type !== "text" && (input.type === "radio" || input.type === "checkbox")
        ? fieldset.querySelector("legend") : label;
      input.focus({preventScroll: true});
      (shown || input).scrollIntoView();
    });
  }

  function currentValue(form, name) {
    var inputs = form.querySelectorAll("[name='" + name + "']");
    var values = [];
    inputs.forEach(function (input) {
      if (input.type === "checkbox" && inputs.length === 1) values.push(input.checked ? "true" : "false");
      else if (input.type === "radio" || input.type === "checkbox") { if (input.checked) values.push(input.value); }
      else values.push(input.value);
    });
    return values;
  }

  function applyConditions(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (field) {
      var wanted = JSON.parse(field.getAttribute("data-show-if-values"));
      var now = currentValue(form, field.getAttribute("data-show-if"));
      var shown = now.some(function (v) { return wanted.indexOf(v) !== -1; });
      field.hidden = !shown;
      field.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !shown; });
      var note = field.querySelector("[data-condition-note]");
      if (note) note.hidden = true;  /* the field appears exactly when it applies */
    });
  }

  function conditions(form) {
    if (!form.querySelector("[data-show-if]")) return;
    applyConditions(form);
    form.addEventListener("change", function () { applyConditions(form); });
  }

  function renumber(group) {
    var label = group.getAttribute("data-group-label");
    var rows = group.querySelectorAll(":scope > .group__row");
    rows.forEach(function (row, i) {
      var legend = row.querySelector(":scope > legend");
      var old = legend.textContent;
      legend.textContent = label + " " + (i + 1);
      var remove = row.querySelector(":scope > .group__remove");
      remove.textContent = remove.textContent.replace(old, legend.textContent);
      remove.hidden = rows.length < 2;
    });
    var add = group.querySelector(":scope > .group__add");
    add.hidden = rows.length >= parseInt(group.getAttribute("data-max-rows"), 10);
  }

  function addRow(group) {
    var name = group.getAttribute("data-group");
    var rows = group.querySelectorAll(":scope > .group__row");
    var last = rows[rows.length - 1];
    var from = last.getAttribute("data-row");
    var next = 0;
    rows.forEach(function (row) { next = Math.max(next, parseInt(row.getAttribute("data-row"), 10) + 1); });
    var row = last.cloneNode(true);
    var re = new RegExp("(^|\\s|f-)" + name.replace(/_/g, "[-_]") + "-" + from + "-", "g");
    function rename(value) {
      return value.replace(re, function (match, lead) { return match.replace("-" + from + "-", "-" + next + "-"); });
    }
    row.setAttribute("data-row", String(next));
    row.id = row.id.replace(new RegExp("-" + from + "$"), "-" + next);
    row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
        if (el.hasAttribute(attribute)) el.setAttribute(attribute, rename(el.getAttribute(attribute)));
      });
    });
    row.querySelectorAll("input, select, textarea").forEach(function (input) {
      if (input.type === "checkbox" || input.type === "radio") input.checked = false;
      else input.value = "";
      input.removeAttribute("aria-invalid");
    });
    row.querySelectorAll(".field__error").forEach(function (p) {
      var owner = p.id;
      row.querySelectorAll("[aria-describedby]").forEach(function (el) {
        el.setAttribute("aria-describedby", el.getAttribute("aria-describedby").split(" ").filter(function (id) {
          return id !== owner; }).join(" "));
        if (!el.getAttribute("aria-describedby")) el.removeAttribute("aria-describedby");
      });
      p.remove();
    });
    row.querySelectorAll(".field--error").forEach(function (f) { f.classList.remove("field--error"); });
    row.querySelector(".group__remove").value = name + "-" + next;
    last.after(row);
    renumber(group);
    var first = row.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function groups(form) {
    form.addEventListener("click", function (event) {
      var button = event.target.closest(".group__add, .group__remove");
      if (!button) return;
      var group = button.closest("fieldset.group");
      event.preventDefault();
      if (button.classList.contains("group__add")) {
        addRow(group);
      } else {
        button.closest(".group__row").remove();
        renumber(group);
        group.querySelector(":scope > .group__add").focus();
      }
    });
  }

  function start() {
    focusSummary();
    document.querySelectorAll("form.form").forEach(function (form) {
      conditions(form);
      groups(form);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// The procedure builder works without this file; it only helps a keyboard user:
// after a save that failed, focus moves to the list of what to fix.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("field-errors");
  if (summary) { summary.focus(); }
});

// Kiosk mode (a shared terminal): print the certificate shown in the frame, and end the
// resident's session after a time without touch or keys (the server signs out on POST).
(function () {
  "use strict";
  // The PDF is framed only when printing is asked for: a PDF viewer loading in a frame holds
  // the page's own navigation (the 終わる button) in Chromium. Without JavaScript the link
  // opens the PDF itself, to print from the viewer.
  var print = document.getElementById("kiosk-print");
  if (print) {
    print.addEventListener("click", function (event) {
      event.preventDefault();
      var frame = document.getElementById("kiosk-pdf");
      if (!frame) {
        frame = document.createElement("iframe");
        frame.id = "kiosk-pdf";
        frame.className = "kiosk-pdf";
        frame.title = print.getAttribute("data-title");
        frame.addEventListener("load", function () {
          try {
            frame.contentWindow.focus();
            frame.contentWindow.print();
          } catch (e) {
            window.print();
          }
        });
        frame.src = print.getAttribute("data-pdf");
        print.parentNode.insertBefore(frame, print.nextSibling);
      } else {
        frame.contentWindow.print();
      }
    });
  }
  var screen = document.querySelector("[data-idle-seconds]");
  var end = document.getElementById("kiosk-end");
  if (!screen || !end) {
    return;
  }
  var seconds = parseInt(screen.getAttribute("data-idle-seconds"), 10) || 90;
  var timer = null;
  function restart() {
    if (timer) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(function () { end.submit(); }, seconds * 1000);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, restart, { passive: true });
  });
  restart();
})();

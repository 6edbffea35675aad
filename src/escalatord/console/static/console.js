// escalatord console: keeps the board live. Every element with data-refresh is replaced by a
// fresh copy of that URL's fragment every data-every seconds, while the tab is visible. No
// library, no build step. A signed-out answer (401) or a redirect reloads the page, which
// then shows the sign-in form.
(function () {
  "use strict";
  function keepFresh(element) {
    var url = element.getAttribute("data-refresh");
    var every = Math.max(2, parseInt(element.getAttribute("data-every"), 10) || 5) * 1000;
    var busy = false;
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401 || response.type === "opaqueredirect") {
            window.location.reload();
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) { return; }
          // Keep the sites a person opened or closed as they were.
          var open = {};
          element.querySelectorAll("details.site").forEach(function (d) {
            open[d.querySelector(".site-name").textContent] = d.open;
          });
          element.innerHTML = html;
          element.querySelectorAll("details.site").forEach(function (d) {
            var name = d.querySelector(".site-name").textContent;
            if (name in open) { d.open = open[name]; }
          });
        })
        .catch(function () { /* the daemon restarting: try again next time */ })
        .then(function () { busy = false; });
    }
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", refresh);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(keepFresh);
  });
})();

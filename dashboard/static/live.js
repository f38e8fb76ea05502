// Live updates for Relay's dashboard: a table body with data-live="URL"
// polls URL (a server-rendered fragment of rows newer than the newest shown)
// and puts new rows on top. The pages work without it.
(function () {
  "use strict";
  function poll(tbody) {
    var src = tbody.getAttribute("data-live");
    var first = tbody.querySelector("tr[data-id]");
    var after = first ? first.getAttribute("data-id") : "";
    var url = src + (src.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(after);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (html.trim() !== "") {
          // The fragment is rendered by html/template on the server: every
          // value in it is escaped there.
          tbody.insertAdjacentHTML("afterbegin", html);
          var empty = document.getElementById("no-events");
          if (empty) { empty.remove(); }
        }
      })
      .catch(function () {})
      .finally(function () { setTimeout(function () { poll(tbody); }, 2000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("tbody[data-live]").forEach(function (tbody) {
      setTimeout(function () { poll(tbody); }, 2000);
    });
  });
})();

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

// A section with data-refresh="URL" (e.g. Connections while a backfill
// runs) is replaced every few seconds by the same section of a fresh copy
// of URL, so progress shows without a reload; it stops when the fresh copy
// no longer asks to be refreshed.
(function () {
  "use strict";
  function refresh(el) {
    fetch(el.getAttribute("data-refresh"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (html === "") { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
        if (!fresh) { return; }
        el.replaceChildren.apply(el, Array.prototype.slice.call(fresh.childNodes).map(function (n) { return document.importNode(n, true); }));
        if (fresh.hasAttribute("data-refresh")) {
          setTimeout(function () { refresh(el); }, 3000);
        } else {
          el.removeAttribute("data-refresh");
        }
      })
      .catch(function () { setTimeout(function () { refresh(el); }, 3000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
      setTimeout(function () { refresh(el); }, 3000);
    });
  });
})();

// A link marked data-follow (the next step of a connect flow) is followed
// at once; without JavaScript the person clicks it.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var next = document.querySelector("a[data-follow]");
  if (next) { window.location.assign(next.href); }
});

// perron: live syntax checking of monitor queries and saved replies. No framework, no CDN.
"use strict";
(function () {
  function debounce(fn, ms) {
    let t = null;
    return function () { clearTimeout(t); const a = arguments; t = setTimeout(() => fn.apply(null, a), ms); };
  }
  document.querySelectorAll("input.query-input[data-check-url]").forEach(function (input) {
    const form = input.closest("form");
    const out = form ? form.querySelector(".query-status") : null;
    if (!out) return;
    const check = debounce(function () {
      const q = input.value;
      if (!q.trim()) { out.textContent = ""; out.className = "query-status"; return; }
      const url = input.dataset.checkUrl + "?q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (body.valid) {
            out.textContent = "✔";
            out.className = "query-status ok";
          } else if (body.error) {
            const e = body.error;
            out.textContent = "✘ " + e.message + (e.column ? " (col. " + e.column + ")" : "") +
              (e.hint ? " — " + e.hint : "");
            out.className = "query-status bad";
          }
        })
        .catch(function () { out.textContent = ""; });
    }, 250);
    input.addEventListener("input", check);
  });
  document.querySelectorAll("button.saved-reply").forEach(function (btn) {
    btn.addEventListener("click", function () {
      const area = document.getElementById("draft-text");
      if (area) { area.value = btn.dataset.text || ""; area.focus(); }
    });
  });
})();

// Audit log page: opens the filters on a wide screen (the page closes them on a phone when
// none is set, so events come first), and polls a background export until it is done, then
// offers its download.
(function () {
  "use strict";
  const filters = document.querySelector("[data-audit-filters]");
  if (filters && window.matchMedia("(min-width: 641px)").matches) filters.open = true;
  const box = document.getElementById("audit-export");
  if (!box) return;
  const text = box.querySelector("[data-export-text]");
  const bar = box.querySelector("[data-export-progress]");
  const link = box.querySelector("[data-export-download]");
  const url = box.dataset.statusUrl;

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((body) => {
        bar.value = body.progress;
        bar.textContent = body.progress + "%";
        if (body.status === "done") {
          text.textContent = "done: " + body.rowCount + " events.";
          link.href = body.downloadUrl;
          link.hidden = false;
        } else if (body.status === "failed") {
          text.textContent = "failed. Try again.";
        } else {
          text.textContent = body.status + " — " + body.progress + "%";
          window.setTimeout(poll, 1000);
        }
      })
      .catch(() => {
        text.textContent = "status unavailable.";
      });
  }
  poll();
})();

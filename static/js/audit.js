// Audit log page: polls a background export until it is done, then offers its download.
(function () {
  "use strict";
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

// Live progress on a report's or a production's page. A timed reload of the whole page
// (the old <meta refresh>) sends a screen reader back to the top every two seconds and
// throws away what a reviewer is typing; instead the status card alone is fetched again
// and replaced, and its aria-live region announces the change. When the job has finished,
// the page is loaded once more so every part of it shows the finished job.
(function () {
  "use strict";
  var card = document.getElementById("job-progress");
  if (!card || !card.hasAttribute("data-in-progress")) {
    return;
  }
  var delay = 2000;

  function poll() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser()
          .parseFromString(html, "text/html")
          .getElementById("job-progress");
        if (!fresh) {
          throw new Error("no progress on the page");
        }
        if (!fresh.hasAttribute("data-in-progress")) {
          window.location.reload();
          return;
        }
        card.innerHTML = fresh.innerHTML;
        delay = 2000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // A dropped connection or a restarting server: try again, less often.
        delay = Math.min(delay * 2, 30000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();

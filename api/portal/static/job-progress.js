// Follows a job live: each readable step is appended to the aria-live list; at the end the page reloads
// to show the outcome. Without JavaScript the page refreshes itself instead (see job.html).
(function () {
  "use strict";
  var list = document.getElementById("job-steps");
  if (!list || list.dataset.finished || !window.EventSource) { return; }
  var status = document.getElementById("job-status");
  var running = document.getElementById("job-running-badge");
  // A step means a worker took the job: the status the page was rendered with ("waiting") is past.
  function showRunning() {
    if (status && running) {
      status.replaceChildren(running.content.cloneNode(true));
      running = null;
    }
  }
  var source = new EventSource(list.dataset.stream + "?after=" + encodeURIComponent(list.dataset.after || "0"));
  source.addEventListener("job-event", function (message) {
    // The server sends each readable step in the page's language, with the language it is in.
    var step = JSON.parse(message.data);
    showRunning();
    if (step.text) {
      var item = document.createElement("li");
      item.textContent = step.text;
      item.lang = step.lang;
      list.appendChild(item);
    }
  });
  // "revoked": the session ended while the page was open; the reload leads to the sign-in page.
  ["end", "revoked"].forEach(function (name) {
    source.addEventListener(name, function () {
      source.close();
      window.location.reload();
    });
  });
})();

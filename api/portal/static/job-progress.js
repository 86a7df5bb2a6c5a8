// Follows a job live: each readable step is appended to the aria-live list; at the end the page reloads
// to show the outcome. Without JavaScript the page refreshes itself instead (see job.html).
(function () {
  "use strict";
  var list = document.getElementById("job-steps");
  if (!list || list.dataset.finished || !window.EventSource) { return; }
  var source = new EventSource(list.dataset.stream + "?after=" + encodeURIComponent(list.dataset.after || "0"));
  source.addEventListener("job-event", function (message) {
    var event = JSON.parse(message.data);
    var text = null;
    if (event.line.indexOf("Step: ") === 0) { text = event.line.slice(6); }
    else if ((event.status === "failed" || event.status === "unreachable") && event.line) { text = event.line; }
    if (text) {
      var item = document.createElement("li");
      item.textContent = text;
      item.lang = "en"; // the playbooks name their steps in English
      list.appendChild(item);
    }
  });
  source.addEventListener("end", function () {
    source.close();
    window.location.reload();
  });
})();

// Live log page: lines arrive over Server-Sent Events as HTML the server
// rendered and escaped; EventSource reconnects by itself and sends the id
// of the last event it saw, from which the server resumes.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var state = document.getElementById("state");
  var follow = true; // keep the newest line in view until the reader scrolls up
  window.addEventListener("scroll", function () {
    follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  });
  var es = new EventSource(log.dataset.events);
  es.addEventListener("open", function () { state.textContent = "live"; });
  es.addEventListener("error", function () {
    if (es.readyState !== EventSource.CLOSED) { state.textContent = "reconnecting…"; }
  });
  es.addEventListener("lines", function (ev) {
    var msg = JSON.parse(ev.data);
    var frag = document.createDocumentFragment();
    msg.html.forEach(function (html, i) {
      var n = msg.first + i;
      var row = document.createElement("div");
      row.className = "line";
      row.id = "L" + n;
      var a = document.createElement("a");
      a.className = "ln";
      a.href = "#L" + n;
      a.textContent = n;
      var text = document.createElement("span");
      text.className = "text";
      text.innerHTML = html; // rendered and escaped by the server
      row.appendChild(a);
      row.appendChild(text);
      frag.appendChild(row);
    });
    log.appendChild(frag);
    if (follow) { window.scrollTo(0, document.body.scrollHeight); }
  });
  es.addEventListener("end", function (ev) {
    var msg = JSON.parse(ev.data);
    state.textContent = "finished: " + msg.status;
    es.close();
  });
  es.addEventListener("failure", function (ev) {
    state.textContent = "error: " + JSON.parse(ev.data).error;
    es.close();
  });
})();

// Log page. A big log is not loaded whole: the head comes from the range
// endpoint, the tail (and everything the build prints from then on) over
// Server-Sent Events, and the bytes between them on demand with "load more".
// Lines arrive as HTML the server rendered and escaped. EventSource
// reconnects by itself and sends the id of the last event it saw, from
// which the server resumes.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var state = document.getElementById("state");
  var rangeURL = log.dataset.range;
  var headBytes = Number(log.dataset.head);
  var tailBytes = Number(log.dataset.tail);

  // Toggles: a class on the log hides the line numbers or the times.
  [["show-ln", "no-ln"], ["show-ts", "no-ts"]].forEach(function (t) {
    var box = document.getElementById(t[0]);
    if (!box) { return; }
    var apply = function () { log.classList.toggle(t[1], !box.checked); };
    box.addEventListener("change", apply);
    apply();
  });

  var follow = true; // keep the newest line in view until the reader scrolls up
  window.addEventListener("scroll", function () {
    follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  });

  function row(n, html, time) {
    var r = document.createElement("div");
    r.className = "line";
    r.id = "L" + n;
    var a = document.createElement("a");
    a.className = "ln";
    a.href = "#L" + n;
    a.textContent = n;
    var ts = document.createElement("span");
    ts.className = "ts";
    if (time) {
      log.classList.add("has-ts");
      ts.textContent = time.substring(11, 23); // HH:MM:SS.mmm, UTC
      ts.title = time;
    }
    var text = document.createElement("span");
    text.className = "text";
    text.innerHTML = html; // rendered and escaped by the server
    r.appendChild(a);
    r.appendChild(ts);
    r.appendChild(text);
    return r;
  }

  // rows renders a range or an event's lines.
  function rows(msg) {
    var frag = document.createDocumentFragment();
    msg.html.forEach(function (html, i) {
      frag.appendChild(row(msg.first + i, html, msg.times ? msg.times[i] : ""));
    });
    return frag;
  }

  // The line after msg: the same line again when msg cut it.
  function nextLine(msg) {
    return msg.first + msg.html.length - (msg.partial ? 1 : 0);
  }

  // The bytes between the head and the tail, loaded on demand.
  var gap = null; // {el, start, line, end}
  function showGap(start, line, end) {
    var el = document.createElement("div");
    el.className = "gap";
    el.id = "gap";
    var what = document.createElement("span");
    var more = document.createElement("button");
    more.id = "more";
    more.type = "button";
    more.textContent = "load more";
    el.appendChild(what);
    el.appendChild(document.createTextNode(" "));
    el.appendChild(more);
    gap = { el: el, what: what, more: more, start: start, line: line, end: end };
    more.addEventListener("click", loadMore);
    describeGap();
    return el;
  }
  function describeGap() {
    var n = gap.end - gap.start;
    gap.what.textContent = "… " + (n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : n + " bytes") +
      " from line " + gap.line + " not shown";
  }
  function loadMore() {
    var limit = Math.min(headBytes, gap.end - gap.start);
    gap.more.disabled = true;
    fetch(rangeURL + "?offset=" + gap.start + "&line=" + gap.line + "&limit=" + limit)
      .then(function (resp) {
        if (!resp.ok) { return resp.text().then(function (t) { throw new Error(t); }); }
        return resp.json();
      })
      .then(function (msg) {
        log.insertBefore(rows(msg), gap.el);
        gap.start = msg.end;
        gap.line = nextLine(msg);
        gap.more.disabled = false;
        if (gap.start >= gap.end) {
          gap.el.remove();
          gap = null;
        } else {
          describeGap();
        }
      })
      .catch(function (err) {
        gap.more.disabled = false;
        gap.what.textContent = "load more failed: " + err.message;
      });
  }

  // A stream the server refuses (429: too many open; the browser does not
  // retry that by itself) is opened again after retrySeconds, the server's
  // Retry-After, up to maxRetries times in a row.
  var retrySeconds = 5;
  var maxRetries = 60;

  // stream follows the log from headEnd. EventSource reconnects by itself
  // when a stream ends (the server ends each after its lifetime) and the
  // server resumes after the Last-Event-ID it sends; a new EventSource
  // after a refusal resumes from the same id, given as ?from=.
  function stream(headEnd, headNext) {
    var first = true;
    var lastId = "";
    var retries = 0;
    // Lines are added once per frame however many events came meanwhile,
    // so that a fast build or a long tail costs one layout per frame.
    var pending = null;
    function flush() {
      log.appendChild(pending);
      pending = null;
      if (follow) { window.scrollTo(0, document.body.scrollHeight); }
    }
    function open(url) {
      var es = new EventSource(url);
      es.addEventListener("open", function () {
        state.textContent = "live";
        retries = 0;
      });
      es.addEventListener("error", function () {
        if (es.readyState !== EventSource.CLOSED) {
          state.textContent = "reconnecting…";
          return;
        }
        if (retries >= maxRetries) {
          state.textContent = "disconnected: reload the page to follow the log";
          return;
        }
        retries++;
        state.textContent = "disconnected; trying again in " + retrySeconds + " s";
        window.setTimeout(function () {
          open(lastId ? log.dataset.events + "?from=" + lastId : url);
        }, retrySeconds * 1000);
      });
      es.addEventListener("lines", function (ev) {
        var msg = JSON.parse(ev.data);
        lastId = ev.lastEventId || lastId;
        if (first && msg.offset > headEnd) {
          log.appendChild(showGap(headEnd, headNext, msg.offset));
        }
        first = false;
        if (!pending) {
          pending = document.createDocumentFragment();
          window.requestAnimationFrame(flush);
        }
        pending.appendChild(rows(msg));
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
    }
    open(log.dataset.events + "?from=" + headEnd + "&tail=" + tailBytes);
  }

  // The head first; a log that has not started yet is followed from its
  // first byte.
  fetch(rangeURL + "?offset=0&limit=" + headBytes)
    .then(function (resp) { return resp.ok ? resp.json() : null; })
    .then(function (msg) {
      if (!msg) { stream(0, 1); return; }
      log.appendChild(rows(msg));
      stream(msg.end, nextLine(msg));
    })
    .catch(function () { stream(0, 1); });
})();

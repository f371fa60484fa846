// The message browser's enhancements (services/web/messages.py); the pages work without it:
// times show UTC, the date-time field is read as UTC, there are three empty header rows, and
// the copy buttons and the live tail stay hidden.
(function () {
  "use strict";
  // The Messages tab may be swapped in by htmx more than once: load once, set up each element once.
  if (window.jetdeckMessages) return;
  window.jetdeckMessages = true;
  function once(el, name) {
    if (el.hasAttribute("data-ready-" + name)) return false;
    el.setAttribute("data-ready-" + name, "");
    return true;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localTime(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  // <time data-epoch-ms> shows local time; its title keeps the UTC one.
  function localize(root) {
    root.querySelectorAll("time[data-epoch-ms]").forEach(function (el) {
      var ms = parseInt(el.getAttribute("data-epoch-ms"), 10);
      if (!isNaN(ms) && !el.hasAttribute("data-local")) {
        el.textContent = localTime(ms);
        el.setAttribute("data-local", "");
      }
    });
  }

  // The date-time field is in the browser's zone: send its offset along.
  function zoneForms(root) {
    root.querySelectorAll("[data-local-time-form]").forEach(function (form) {
      if (!once(form, "tz")) return;
      var tz = form.querySelector("[data-tz]");
      if (tz) tz.value = String(new Date().getTimezoneOffset());
      var label = form.querySelector("[data-tz-label]");
      if (label) label.textContent = "(local time)";
    });
  }

  function copyText(text, button) {
    function done(ok) {
      var old = button.textContent;
      button.textContent = ok ? "Copied" : "Select and copy (Ctrl+C)";
      setTimeout(function () { button.textContent = old; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { fallback(text, done); });
    } else {
      fallback(text, done);
    }
  }
  // Without the clipboard API (plain http): a selected textarea and execCommand.
  function fallback(text, done) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    done(ok);
  }
  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.querySelector('[data-copy-source="' + button.getAttribute("data-copy") + '"]');
      if (!source || !once(button, "copy")) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(source.value !== undefined && source.tagName === "TEXTAREA" ? source.value : source.textContent, button);
      });
    });
  }

  // Header rows: one more on demand.
  function headerRows(root) {
    root.querySelectorAll("[data-add-header]").forEach(function (button) {
      var rows = button.parentNode.querySelector("[data-header-rows]");
      if (!rows || !once(button, "add")) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var last = rows.querySelector("[data-header-row]:last-child");
        var row = last.cloneNode(true);
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
        rows.appendChild(row);
        row.querySelector("input").focus();
      });
    });
  }

  // Live tail: new rows on top of the list, newest first, at most data-tail-keep kept.
  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }
  function size(n) {
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + units[i];
  }
  function rowFor(m) {
    var tr = document.createElement("tr");
    tr.className = "tail-new";
    var seq = document.createElement("td");
    var a = document.createElement("a");
    a.href = m.url;
    a.textContent = String(m.seq);
    seq.appendChild(a);
    tr.appendChild(seq);
    var when = document.createElement("td");
    when.className = "nowrap";
    if (m.time) {
      var t = document.createElement("time");
      t.setAttribute("datetime", m.time);
      t.title = m.time;
      t.textContent = m.epoch_ms !== null ? localTime(m.epoch_ms) : m.time;
      when.appendChild(t);
    }
    tr.appendChild(when);
    tr.appendChild(cell(m.subject, "mono"));
    tr.appendChild(cell(size(m.size), "num"));
    tr.appendChild(cell(String(m.headers), "num"));
    var preview = cell("", "mono preview");
    var tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = m.preview_format;
    preview.appendChild(tag);
    preview.appendChild(document.createTextNode(" " + m.preview));
    tr.appendChild(preview);
    return tr;
  }
  function tails(root) {
    root.querySelectorAll("[data-tail]").forEach(function (box) {
      if (!window.EventSource || !once(box, "tail")) return;
      box.hidden = false;
      var url = box.getAttribute("data-tail");
      var keep = parseInt(box.getAttribute("data-tail-keep"), 10) || 200;
      var toggle = box.querySelector("[data-tail-toggle]");
      var pauseButton = box.querySelector("[data-tail-pause]");
      var status = box.querySelector("[data-tail-status]");
      var body = document.querySelector("[data-tail-rows]");
      var source = null, paused = false, held = [], received = 0, skipped = 0;

      function show() {
        var text = received + " new";
        if (skipped) text += ", " + skipped + " skipped (over the rate or row cap)";
        if (paused) text += " — paused, " + held.length + " waiting";
        status.textContent = text;
      }
      function add(m) {
        if (!body) return;
        var empty = body.querySelector("td[colspan]");
        if (empty) empty.parentNode.remove();
        body.insertBefore(rowFor(m), body.firstChild);
        while (body.rows.length > keep) { body.deleteRow(body.rows.length - 1); }
      }
      function stop(reason) {
        if (source) { source.close(); source = null; }
        toggle.setAttribute("aria-pressed", "false");
        toggle.textContent = "Live tail";
        pauseButton.hidden = true;
        if (reason) status.textContent = reason;
      }
      function start() {
        received = 0; skipped = 0; held = []; paused = false;
        source = new EventSource(url);
        toggle.setAttribute("aria-pressed", "true");
        toggle.textContent = "Stop live tail";
        pauseButton.hidden = false;
        pauseButton.textContent = "Pause";
        pauseButton.setAttribute("aria-pressed", "false");
        status.textContent = "Connecting…";
        source.addEventListener("ready", function () { box.setAttribute("data-tail-ready", ""); status.textContent = "Waiting for new messages…"; });
        source.addEventListener("row", function (event) {
          if (!box.isConnected) { stop(""); return; }  // the tab was swapped away
          var m = JSON.parse(event.data);
          received++;
          if (paused) {
            held.push(m);
            if (held.length > keep) { held.shift(); skipped++; }
          } else {
            add(m);
          }
          show();
        });
        source.addEventListener("skipped", function (event) { skipped += JSON.parse(event.data).skipped; show(); });
        source.addEventListener("end", function (event) {
          var reason = JSON.parse(event.data).reason;
          stop(reason === "stream_deleted" ? "The stream was deleted: the tail ended." : "The tail ended (" + reason + ").");
        });
        source.onerror = function () {
          if (source && source.readyState === EventSource.CLOSED) stop("The tail was refused or lost.");
        };
      }
      toggle.addEventListener("click", function () { if (source) stop(""); else start(); });
      pauseButton.addEventListener("click", function () {
        paused = !paused;
        pauseButton.textContent = paused ? "Resume" : "Pause";
        pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
        if (!paused) { held.forEach(add); held = []; }
        show();
      });
      window.addEventListener("pagehide", function () { if (source) source.close(); });
      // htmx swapping the tab away (paging, another tab) ends the tail at once, so the
      // server closes its subscription and it never counts against the user's cap.
      box.addEventListener("htmx:beforeCleanupElement", function (event) {
        if (event.target === box && source) stop("");
      });
    });
  }

  function setUp(root) {
    localize(root);
    zoneForms(root);
    copyButtons(root);
    headerRows(root);
    tails(root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  else setUp(document);
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt.parentNode || document); });
})();

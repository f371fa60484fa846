// JetDeck charts: draws the figures of a `[data-charts]` panel (templates/charts.html) with
// uPlot from the page's chart document (services/web/charts.py → shared/metrics/charts.py):
//   {"x": [epoch s…], "series": {name: [value|null…]}, "units": {…}, "limits": {name: value},
//    "step": s, "from": s, "to": s, "refresh": s between collections | null}
// A null is a bucket without a sample: the line breaks there (spanGaps false). A limit is a
// dashed line. Drag to zoom (every chart of the panel follows), double-click or "Reset zoom"
// to zoom out. A range ending now refreshes at the collection interval while the tab is
// visible. Colours are CSS variables (charts.css), re-read when the theme changes.
// For tests and the bench: `window.jetdeckCharts` (each chart's drawn data) and
// `performance.mark("charts-drawn")` once every chart of the page is drawn.
(function () {
  "use strict";
  if (window.jetdeckCharts) { window.jetdeckCharts.scan(); return; }

  var LABELS = {
    num_pending: "pending", num_ack_pending: "ack pending", num_redelivered: "redelivered",
    delivered_rate: "delivered/s", ack_rate: "acked/s", time_lag_seconds: "time lag",
    time_to_drain_seconds: "time to drain", messages: "messages", bytes: "bytes",
    ingest_rate: "ingested/s", storage_used: "storage used", memory_used: "memory used",
    servers_reachable: "servers reachable"
  };
  var LIMIT_LABELS = {
    num_ack_pending: "max_ack_pending", bytes: "max_bytes", messages: "max_msgs",
    storage_used: "limit", memory_used: "limit", servers_reachable: "servers known"
  };
  var BYTES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  var panels = [];
  var state = { charts: [], drawn: false };

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  function trim(v) {
    var s = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
    return s.indexOf(".") >= 0 ? s.replace(/\.?0+$/, "") : s;
  }

  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9) + "G";
    if (a >= 1e6) return trim(v / 1e6) + "M";
    if (a >= 1e4) return trim(v / 1e3) + "k";
    return trim(v);
  }

  // A value with its unit: bytes in KiB/MiB/GiB, seconds as s/min/h/d, others as counts.
  function fmt(v, unit) {
    if (v == null) return "—";
    if (unit === "bytes") {
      var i = 0, size = v;
      while (Math.abs(size) >= 1024 && i < BYTES.length - 1) { size /= 1024; i++; }
      return trim(size) + " " + BYTES[i];
    }
    if (unit === "s") {
      var a = Math.abs(v);
      if (a >= 86400) return trim(v / 86400) + " d";
      if (a >= 3600) return trim(v / 3600) + " h";
      if (a >= 120) return trim(v / 60) + " min";
      return trim(v) + " s";
    }
    if (unit === "/s") return compact(v) + "/s";
    if (unit === "msgs") return compact(v) + " msgs";
    return compact(v) + (unit ? " " + unit : "");
  }

  function axisValue(v, unit) {
    if (unit === "bytes" || unit === "s") return fmt(v, unit);
    return compact(v);
  }

  // Points are drawn when they are sparse (uPlot's density rule); otherwise only a sample
  // with a gap on both sides gets a dot, as it has no line to show it.
  function isolated(u, si, show) {
    if (show) return null;
    var ys = u.data[si], out = [];
    for (var i = 0; i < ys.length; i++) {
      if (ys[i] != null && (i === 0 || ys[i - 1] == null) && (i === ys.length - 1 || ys[i + 1] == null)) out.push(i);
    }
    return out.length ? out : null;
  }

  // Byte axes tick at powers of two of KiB/MiB/GiB (512 KiB, 1 MiB…), not at 977 KiB.
  var BYTE_INCRS = [];
  for (var k = 0; k < 6; k++) {
    for (var m = 1; m < 1024; m *= 2) BYTE_INCRS.push(m * Math.pow(1024, k));
  }

  function utc(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function lastPoint(xs, column) {
    for (var i = column.length - 1; i >= 0; i--) {
      if (column[i] != null) return { i: i, t: xs[i], v: column[i] };
    }
    return null;
  }

  // ---- one panel --------------------------------------------------------------------------

  function Panel(root) {
    this.root = root;
    this.src = root.getAttribute("data-charts");
    this.figures = Array.prototype.slice.call(root.querySelectorAll("figure.chart"));
    this.plots = [];
    this.doc = null;
    this.zoomed = false;
    this.syncing = false;
    this.timer = null;
    this.reset = root.querySelector("[data-charts-reset]");
    var self = this;
    if (this.reset) this.reset.addEventListener("click", function () { self.unzoom(); });
    root.setAttribute("data-charts-ready", "loading");
  }

  Panel.prototype.load = function (first) {
    var self = this;
    // The first load takes the request the panel's inline script started early, if any.
    var early = first && window.jetdeckChartData && window.jetdeckChartData[this.src];
    if (early) delete window.jetdeckChartData[this.src];
    var request = early || fetch(this.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("chart data: HTTP " + response.status);
        return response.json();
      });
    return request
      .then(function (doc) {
        self.doc = doc;
        if (first || !self.plots.length) self.draw();
        else self.update();
        self.schedule();
      })
      .catch(function (err) {
        self.figures.forEach(function (figure) {
          figure.querySelector(".chart-summary").textContent = "Could not load the chart data.";
        });
        self.root.setAttribute("data-charts-ready", "failed");
        if (window.console) console.warn(err);
      });
  };

  // The arrays a figure draws: x, its series, then one constant line per limit.
  Panel.prototype.dataFor = function (figure) {
    var doc = this.doc;
    var names = figure.getAttribute("data-series").split(",");
    var data = [doc.x];
    var limits = [];
    names.forEach(function (name) { data.push(doc.series[name] || doc.x.map(function () { return null; })); });
    names.forEach(function (name) {
      var limit = doc.limits[name];
      if (limit != null) {
        limits.push(name);
        data.push(doc.x.map(function () { return limit; }));
      }
    });
    return { names: names, limits: limits, data: data };
  };

  Panel.prototype.options = function (figure, shape, width) {
    var self = this;
    var unit = figure.getAttribute("data-unit");
    var colours = [css("--chart-1"), css("--chart-2"), css("--chart-3")];
    var series = [{ label: "time", value: function (u, t) { return t == null ? "—" : utc(t); } }];
    shape.names.forEach(function (name, i) {
      series.push({
        label: LABELS[name] || name,
        stroke: colours[i % colours.length],
        width: 1.5,
        spanGaps: false,
        points: { size: 5, filter: isolated },
        value: function (u, v) { return fmt(v, unit); }
      });
    });
    shape.limits.forEach(function (name) {
      series.push({
        label: LIMIT_LABELS[name] || "limit",
        stroke: css("--chart-limit"),
        width: 1,
        dash: [6, 4],
        points: { show: false },
        value: function (u, v) { return fmt(v, unit); }
      });
    });
    var axis = { stroke: css("--muted"), grid: { stroke: css("--chart-grid"), width: 1 }, ticks: { stroke: css("--chart-grid"), width: 1 } };
    return {
      width: width,
      height: 180,
      // Times in UTC everywhere: axes, legend, summaries and the custom range's fields.
      tzDate: function (t) { return uPlot.tzDate(new Date(t * 1000), "Etc/UTC"); },
      series: series,
      legend: { live: true },
      cursor: {
        sync: { key: this.src },
        drag: { x: true, y: false, setScale: true }
      },
      scales: {
        x: { time: true },
        y: {
          range: function (u, min, max) {
            var top = max == null || max <= 0 ? 1 : max * 1.1;
            return [Math.min(0, min == null ? 0 : min), top];
          }
        }
      },
      axes: [
        Object.assign({}, axis),
        Object.assign({}, axis, {
          label: unit, labelSize: 16, size: 64,
          incrs: unit === "bytes" ? BYTE_INCRS : undefined,
          values: function (u, splits) { return splits.map(function (v) { return axisValue(v, unit); }); }
        })
      ],
      hooks: {
        setScale: [function (u, key) {
          if (key !== "x" || self.syncing || self.programmatic) return;
          var xs = u.data[0];
          var full = !xs.length || (u.scales.x.min <= xs[0] && u.scales.x.max >= xs[xs.length - 1]);
          self.zoomed = !full;
          if (self.reset) self.reset.hidden = !self.zoomed;
          self.syncing = true;
          self.plots.forEach(function (other) {
            if (other !== u) other.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
          });
          self.syncing = false;
        }]
      }
    };
  };

  Panel.prototype.summarise = function (figure, shape) {
    var doc = this.doc;
    var unit = figure.getAttribute("data-unit");
    var title = figure.getAttribute("data-title");
    var last = {};
    var parts = [];
    var latest = null;
    shape.names.forEach(function (name) {
      var point = lastPoint(doc.x, doc.series[name] || []);
      last[name] = point ? point.v : null;
      if (point) {
        parts.push((shape.names.length > 1 ? (LABELS[name] || name) + " " : "") + fmt(point.v, unit));
        if (latest == null || point.t > latest) latest = point.t;
      }
    });
    var text;
    if (!parts.length) text = "No samples in this range.";
    else {
      text = "Last: " + parts.join(", ") + " at " + utc(latest);
      shape.limits.forEach(function (name) {
        text += "; " + (LIMIT_LABELS[name] || "limit") + " " + fmt(doc.limits[name], unit);
      });
      text += ".";
    }
    figure.querySelector(".chart-summary").textContent = text;
    figure.setAttribute("aria-label", title + ": " + text);
    figure.setAttribute("data-last", JSON.stringify(last));
  };

  Panel.prototype.draw = function () {
    var self = this;
    this.plots.forEach(function (u) { u.destroy(); });
    this.plots = [];
    this.figures.forEach(function (figure) {
      var holder = figure.querySelector(".chart-canvas");
      var shape = self.dataFor(figure);
      var width = Math.max(holder.clientWidth || figure.clientWidth || 300, 200);
      var u = new uPlot(self.options(figure, shape, width), shape.data, holder);
      u.jetdeck = { figure: figure, shape: shape };
      self.plots.push(u);
      self.summarise(figure, shape);
    });
    this.root.setAttribute("data-charts-ready", "drawn");
    this.publish();
  };

  Panel.prototype.update = function () {
    var self = this;
    var shapes = this.plots.map(function (u) { return self.dataFor(u.jetdeck.figure); });
    var changed = this.plots.some(function (u, i) {
      return shapes[i].limits.join() !== u.jetdeck.shape.limits.join();
    });
    if (changed) { this.draw(); return; }
    this.plots.forEach(function (u, i) {
      var figure = u.jetdeck.figure;
      var shape = shapes[i];
      u.jetdeck.shape = shape;
      self.programmatic = true;
      u.setData(shape.data, !self.zoomed);
      self.programmatic = false;
      self.summarise(figure, shape);
    });
    this.publish();
  };

  Panel.prototype.unzoom = function () {
    var self = this;
    this.zoomed = false;
    if (this.reset) this.reset.hidden = true;
    this.programmatic = true;
    this.plots.forEach(function (u) {
      var xs = u.data[0];
      if (xs.length) u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    });
    this.programmatic = false;
  };

  Panel.prototype.resize = function () {
    this.plots.forEach(function (u) {
      var holder = u.jetdeck.figure.querySelector(".chart-canvas");
      var width = Math.max(holder.clientWidth || 300, 200);
      if (Math.abs(width - u.width) > 2) u.setSize({ width: width, height: 180 });
    });
  };

  // A range ending now asks again every `refresh` seconds, only while the tab is visible.
  Panel.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    if (!this.doc || !this.doc.refresh) return;
    this.timer = setTimeout(function () { self.tick(); }, this.doc.refresh * 1000);
  };

  Panel.prototype.tick = function () {
    if (!document.body.contains(this.root)) { this.stop(); return; }
    if (document.visibilityState !== "visible") { this.due = true; return; }
    this.due = false;
    this.load(false);
  };

  Panel.prototype.stop = function () {
    clearTimeout(this.timer);
    this.plots.forEach(function (u) { u.destroy(); });
    this.plots = [];
    panels = panels.filter(function (p) { return p !== this; }, this);
  };

  Panel.prototype.publish = function () {
    state.charts = [];
    panels.forEach(function (panel) {
      panel.plots.forEach(function (u) {
        state.charts.push({
          title: u.jetdeck.figure.getAttribute("data-title"),
          series: u.jetdeck.shape.names,
          limits: u.jetdeck.shape.limits,
          data: u.data
        });
      });
    });
    var all = panels.every(function (panel) { return panel.plots.length === panel.figures.length; });
    if (all && !state.drawn) {
      state.drawn = true;
      if (window.performance && performance.mark) performance.mark("charts-drawn");
    }
  };

  // ---- the page ---------------------------------------------------------------------------

  function scan() {
    if (typeof window.uPlot === "undefined") return false;
    document.querySelectorAll("[data-charts]").forEach(function (root) {
      if (root.jetdeckPanel) return;
      var panel = new Panel(root);
      root.jetdeckPanel = panel;
      panels.push(panel);
    });
    panels.forEach(function (panel) { if (!panel.doc && !panel.loading) { panel.loading = true; panel.load(true); } });
    return true;
  }

  // uPlot's script may run after this one when htmx swaps both in: wait for it (bounded).
  function start(tries) {
    if (scan()) return;
    if (tries > 0) setTimeout(function () { start(tries - 1); }, 20);
    else if (window.console) console.warn("charts: uPlot did not load");
  }

  state.scan = scan;
  window.jetdeckCharts = state;

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    panels.forEach(function (panel) { if (panel.due) panel.tick(); });
  });
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { panels.forEach(function (p) { p.resize(); }); }, 100);
  });
  // The theme's colours are read when a chart is built: rebuild on a theme change.
  function redraw() { panels.forEach(function (p) { if (p.doc) p.draw(); }); }
  new MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  if (window.matchMedia) {
    var dark = window.matchMedia("(prefers-color-scheme: dark)");
    if (dark.addEventListener) dark.addEventListener("change", redraw);
  }
  document.addEventListener("htmx:afterSettle", function () { scan(); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(100); });
  } else {
    start(100);
  }
})();

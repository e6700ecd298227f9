/* Draws the dashboard's charts with uPlot from the JSON specifications the server embeds (data-spec on each
   .plot element; omnimaint.service.ui.charts says what a specification holds). Charts with the same "sync" key
   share the cursor and the zoom: drag across one to zoom them all, double-click or "Reset zoom" to undo. */
(function () {
  "use strict";

  const groups = new Map(); // sync key -> charts
  const charts = [];
  const lang = document.documentElement.lang || "en";

  function tone(i) {
    return getComputedStyle(document.documentElement).getPropertyValue("--tone-" + (i % 6)).trim() || "#0969da";
  }

  // uPlot's date templates ("{h}:{mm}{aa}\n{M}/{D}") rendered with Intl, line by line, in the page's language.
  function dateFormatter(template) {
    const lines = template.split("\n").map(function (part) {
      const options = {};
      if (/\{(YYYY|YY)\}/.test(part)) options.year = "numeric";
      if (/\{(MMMM|MMM|MM|M)\}/.test(part)) options.month = "short";
      if (/\{(DD|D)\}/.test(part)) options.day = "numeric";
      if (/\{(HH|H|hh|h)\}/.test(part)) { options.hour = "2-digit"; options.hourCycle = "h23"; }
      if (/\{mm\}/.test(part)) options.minute = "2-digit";
      if (/\{ss\}/.test(part)) options.second = "2-digit";
      return Object.keys(options).length ? new Intl.DateTimeFormat(lang, options) : null;
    });
    return function (date) {
      return lines.map(function (f) { return f ? f.format(date) : ""; }).join("\n");
    };
  }

  function seriesOf(spec) {
    return spec.series.map(function (s) {
      const colour = tone(s.tone);
      const out = { label: s.label, stroke: colour, width: 1.5, points: { show: false }, spanGaps: false };
      if (s.style === "dash") out.dash = [6, 4];
      if (s.style === "bars") {
        out.paths = uPlot.paths.bars({ size: [0.9, 40] });
        out.fill = colour;
        out.width = 0;
      }
      if (s.style === "edge") {
        out.width = 0;
        out.class = "om-edge";
      }
      return out;
    });
  }

  // The x data widened to the spec's range with empty points, so that every chart of a page spans the same period.
  function dataOf(spec) {
    const xs = spec.xs.slice();
    const columns = spec.series.map(function (s) { return s.values.slice(); });
    if (spec.range) {
      if (!xs.length || spec.range[0] < xs[0]) {
        xs.unshift(spec.range[0]);
        columns.forEach(function (c) { c.unshift(null); });
      }
      if (spec.range[1] > xs[xs.length - 1]) {
        xs.push(spec.range[1]);
        columns.forEach(function (c) { c.push(null); });
      }
    }
    return [xs].concat(columns);
  }

  function rulesPlugin(spec) {
    return {
      hooks: {
        draw: [function (u) {
          const ctx = u.ctx;
          ctx.save();
          if (spec.mark) {
            const x0 = u.valToPos(spec.mark[0], "x", true), x1 = u.valToPos(spec.mark[1], "x", true);
            ctx.fillStyle = "rgba(207, 34, 46, 0.12)";
            ctx.fillRect(Math.min(x0, x1), u.bbox.top, Math.abs(x1 - x0), u.bbox.height);
          }
          spec.rules.forEach(function (rule) {
            const y = u.valToPos(rule.value, "y", true);
            if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
            ctx.strokeStyle = "#a40e26";
            ctx.setLineDash([4, 4]);
            ctx.lineWidth = devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.fillStyle = "#a40e26";
            ctx.font = (11 * devicePixelRatio) + "px system-ui, sans-serif";
            ctx.textAlign = "left";
            ctx.textBaseline = "bottom";
            ctx.fillText(rule.label, u.bbox.left + 4 * devicePixelRatio, y - 3 * devicePixelRatio);
          });
          ctx.restore();
        }],
      },
    };
  }

  function follow(source) {
    const key = source.omSync;
    if (!key || source.omFollowing) return;
    const scale = source.scales.x;
    (groups.get(key) || []).forEach(function (other) {
      if (other === source || !other.root.isConnected) return;
      other.omFollowing = true;
      other.setScale("x", { min: scale.min, max: scale.max });
      other.omFollowing = false;
    });
  }

  function build(element) {
    const spec = JSON.parse(element.getAttribute("data-spec"));
    const width = Math.max(element.clientWidth || element.parentElement.clientWidth || 600, 240);
    const yRange = spec.y ? function (u, min, max) {
      return [spec.y.min === null ? min : spec.y.min, spec.y.max === null ? Math.max(max, 1) : spec.y.max];
    } : undefined;
    const axisStroke = "#57606a", grid = { stroke: "#eaeef2", width: 1 };
    const options = {
      width: width,
      height: spec.height,
      fmtDate: dateFormatter,
      scales: { x: { time: spec.x === "time" }, y: yRange ? { range: yRange } : {} },
      series: [{ label: spec.x === "time" ? "" : spec.xLabel }].concat(seriesOf(spec)),
      bands: spec.band ? [{ series: spec.band, fill: "rgba(26, 127, 55, 0.14)" }] : [],
      axes: [
        spec.xAxis
          ? { stroke: axisStroke, grid: grid, ticks: grid, label: spec.x === "time" ? undefined : spec.xLabel }
          : { stroke: axisStroke, grid: grid, ticks: { show: false }, size: 6, values: function () { return []; } },
        { stroke: axisStroke, grid: grid, ticks: grid, size: 64, space: 24 },
      ],
      cursor: spec.sync ? { sync: { key: spec.sync } } : {},
      legend: { show: spec.legend, live: true },
      plugins: [rulesPlugin(spec)],
      hooks: { setScale: [function (u, key) { if (key === "x") follow(u); }] },
    };
    element.textContent = "";
    const chart = new uPlot(options, dataOf(spec), element);
    chart.omSync = spec.sync;
    chart.omData = spec;
    if (spec.sync) {
      if (!groups.has(spec.sync)) groups.set(spec.sync, []);
      groups.get(spec.sync).push(chart);
    }
    charts.push(chart);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        const w = Math.max(element.clientWidth, 240);
        if (Math.abs(w - chart.width) > 2) chart.setSize({ width: w, height: spec.height });
      }).observe(element);
    }
    return chart;
  }

  function init(root) {
    (root || document).querySelectorAll(".plot[data-spec]").forEach(function (element) {
      if (element.omChart) return;
      element.omChart = build(element);
    });
  }

  function resetZoom(key) {
    (groups.get(key) || []).forEach(function (chart) {
      const xs = chart.data[0];
      if (xs.length) chart.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    });
  }

  window.omnimaint = window.omnimaint || {};
  window.omnimaint.charts = charts;
  window.omnimaint.initCharts = init;
  window.omnimaint.resetZoom = resetZoom;
})();

/* The dashboard's behaviour: times in the reader's time zone, live updates from the server's event stream (turned
   into htmx triggers that reload the parts of the page showing alarms or scores), the CSRF token on htmx requests,
   a question before a form marked data-confirm is sent, and the zoom reset. Pages work without it, but are then
   neither live nor localized in time. */
(function () {
  "use strict";

  const lang = document.documentElement.lang || "en";
  const styles = {
    datetime: { dateStyle: "medium", timeStyle: "short" },
    date: { dateStyle: "medium" },
    time: { timeStyle: "short" },
  };
  const formats = {};

  function format(style) {
    if (!formats[style]) formats[style] = new Intl.DateTimeFormat(lang, styles[style] || styles.datetime);
    return formats[style];
  }

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      if (element.dataset.local) return;
      const moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) return;
      element.title = element.textContent;
      element.textContent = format(element.dataset.style).format(moment);
      element.dataset.local = "1";
    });
  }

  function onLoad(root) {
    localizeTimes(root);
    window.omnimaint.initCharts(root);
  }

  // The browser reconnects by itself after a stream ends or breaks; after a refusal (the session ended, the
  // server restarts) it gives up, so the page tries again every RETRY_MS and meanwhile says it is not live.
  const RETRY_MS = 30000;

  function listen(address) {
    const status = document.getElementById("live");
    const badge = document.getElementById("active-alarms");
    const source = new EventSource(address);
    source.addEventListener("open", function () {
      if (!status) return;
      status.textContent = status.dataset.connected;
      status.dataset.state = "on";
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.OPEN) return;
      if (status) {
        status.textContent = status.dataset.lost;
        status.dataset.state = "off";
      }
      if (source.readyState === EventSource.CLOSED) setTimeout(function () { listen(address); }, RETRY_MS);
    });
    source.addEventListener("alarms", function (event) {
      const data = JSON.parse(event.data);
      if (badge && typeof data.active === "number") {
        badge.dataset.count = String(data.active);
        badge.lastChild.textContent = String(data.active);
      }
      htmx.trigger(document.body, "om:alarms", data);
    });
    source.addEventListener("scores", function () {
      htmx.trigger(document.body, "om:scores", {});
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  htmx.onLoad(onLoad);
  document.body.addEventListener("htmx:configRequest", function (event) {
    const token = document.querySelector('meta[name="csrf-token"]');
    if (token) event.detail.headers["X-CSRF-Token"] = token.content;
  });
  document.addEventListener("submit", function (event) {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest(".reset-zoom");
    if (button) window.omnimaint.resetZoom(button.dataset.sync);
  });
  if (document.body.dataset.live && window.EventSource) listen(document.body.dataset.live);
})();

// What the chart pages share (risk dashboard, funnel analytics, tier overview, the customer's
// grade card): the brand and tier colours, the legend, the options every chart starts from,
// number parsing, redrawing a canvas, the number formats and the boot from the page's
// json_script block. Loaded after Chart.js and before the page's own script, all deferred.
(() => {
  "use strict";

  // Same colours as the tier badges (static/css/app.css).
  const TIER_COLOURS = { AA: "#146c43", A: "#0d6efd", B: "#fd7e14", unrated: "#adb5bd" };
  const GREY = "#adb5bd";
  const BRAND = "#0b3d5c"; // --crm-brand in static/css/app.css
  const LEGEND = { position: "bottom", labels: { usePointStyle: true, boxHeight: 8 } };
  // The page's language, so the numbers read as in the tables beside the charts.
  const lang = document.documentElement.lang || undefined;

  function number(value) {
    // Decimals arrive as strings (never floats on the server); null stays a gap.
    return value === null ? null : Number(value);
  }

  function tierColours(tiers) {
    return tiers.map((tier) => TIER_COLOURS[tier] || GREY);
  }

  // Every chart here fills its box (.chart-box sets the height), follows resizes and is drawn at
  // once: `extra` adds to or overrides these.
  function chartOptions(extra) {
    return { responsive: true, maintainAspectRatio: false, animation: false, ...extra };
  }

  // Axis ticks of values already in percent.
  function percentTick(value) {
    return `${value}%`;
  }

  function replace(canvas, config) {
    const existing = window.Chart.getChart(canvas);
    if (existing) {
      existing.destroy();
    }
    return new window.Chart(canvas, config);
  }

  // Parse the json_script block `sourceId` and hand it to draw() once the page is parsed;
  // nothing happens without the block or without Chart.js (the tables carry the numbers).
  function onReady(sourceId, draw) {
    function boot() {
      const source = document.getElementById(sourceId);
      if (!source || typeof window.Chart === "undefined") {
        return;
      }
      draw(JSON.parse(source.textContent));
    }
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", boot);
    } else {
      boot();
    }
  }

  window.crmCharts = Object.freeze({
    TIER_COLOURS,
    GREY,
    BRAND,
    LEGEND,
    lang,
    tierColours,
    chartOptions,
    percentTick,
    number,
    replace,
    onReady,
    money: new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    compact: new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 }),
  });
})();

// Tier overview: the exposure-per-tier bar chart. The numbers come from the page's
// json_script block (#tier-chart-data) and are also in the table beside the chart, so the page
// is complete without script.
(() => {
  "use strict";

  // Same colours as the tier badges (static/css/app.css).
  const TIER_COLOURS = {
    AA: "#146c43",
    A: "#0d6efd",
    B: "#fd7e14",
    unrated: "#adb5bd",
  };

  function draw() {
    const canvas = document.getElementById("tier-exposure-chart");
    const source = document.getElementById("tier-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    const data = JSON.parse(source.textContent);
    const lang = document.documentElement.lang || undefined;
    const money = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    const compact = new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 });
    // Decimals arrive as strings (never floats on the server); the chart only needs their size.
    const values = data.exposure.map(Number);

    const existing = window.Chart.getChart(canvas);
    if (existing) {
      existing.destroy();
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: values,
            backgroundColor: data.tiers.map((tier) => TIER_COLOURS[tier] || "#6c757d"),
            borderRadius: 4,
          },
        ],
      },
      options: {
        responsive: true,
        aspectRatio: 2,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (item) => `${data.label}: ${money.format(data.exposure[item.dataIndex])}`,
            },
          },
        },
        scales: {
          y: {
            beginAtZero: true,
            ticks: { callback: (value) => compact.format(value) },
          },
        },
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

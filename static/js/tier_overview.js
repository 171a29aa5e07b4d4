// Tier overview: the exposure-per-tier bar chart. The numbers come from the page's
// json_script block (#tier-chart-data) and are also in the table beside the chart, so the page
// is complete without script. Shared setup: static/js/charts.js.
(() => {
  "use strict";

  const { tierColours, chartOptions, number, replace, money, compact } = window.crmCharts;

  function draw(data) {
    const canvas = document.getElementById("tier-exposure-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: data.exposure.map(number),
            backgroundColor: tierColours(data.tiers),
            borderRadius: 4,
          },
        ],
      },
      // The only chart not in a fixed-height .chart-box: it keeps its shape instead.
      options: chartOptions({
        maintainAspectRatio: true,
        aspectRatio: 2,
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
      }),
    });
  }

  window.crmCharts.onReady("tier-chart-data", draw);
})();

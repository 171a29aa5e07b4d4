// Bar chart of each criterion's contribution to the score (customer page). Data comes from a
// json_script element; the same numbers are in the table beside it. Shared setup:
// static/js/charts.js.
(() => {
  "use strict";

  const { BRAND, chartOptions, replace } = window.crmCharts;

  window.crmCharts.onReady("grade-chart-data", (data) => {
    const canvas = document.getElementById("grade-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          // Lower "order" is drawn on top: the earned points over the grey maximum.
          { label: "earned", data: data.points, backgroundColor: BRAND, order: 1 },
          { label: "weight", data: data.max, backgroundColor: "#dee2e6", order: 2 },
        ],
      },
      options: chartOptions({
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: { x: { stacked: false, beginAtZero: true }, y: { ticks: { autoSkip: false } } },
        datasets: { bar: { grouped: false } },
      }),
    });
  });
})();

// Funnel analytics: the funnel, days-in-stage and cycle-time charts. The numbers come from the
// page's json_script block (#funnel-analytics-data) and are also in the tables beside the
// charts, so the page is complete without script. Shared setup: static/js/charts.js.
(() => {
  "use strict";

  const { GREY, BRAND, LEGEND, lang, tierColours, chartOptions, percentTick, number, replace, money, compact } =
    window.crmCharts;
  const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });

  const BLUE = "#0d6efd";
  const TEAL = "#20c997";
  const ORANGE = "#fd7e14";
  // One shade per layer, light to dark as the funnel narrows.
  const LAYER_COLOURS = ["#9ec5fe", "#6ea8fe", "#3d8bfd", "#0d6efd", "#146c43"];

  function funnelChart(data) {
    const canvas = document.getElementById("funnel-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: data.reached,
            backgroundColor: LAYER_COLOURS,
            borderRadius: 4,
            barPercentage: 0.9,
            categoryPercentage: 0.9,
          },
        ],
      },
      options: chartOptions({
        indexAxis: "y",
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => `${data.label}: ${whole.format(item.raw)}` } },
        },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0, callback: (value) => whole.format(value) } },
          y: { grid: { display: false } },
        },
      }),
    });
  }

  function stageChart(data) {
    const canvas = document.getElementById("stage-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.amountLabel, data: data.amount.map(number), backgroundColor: BLUE, borderRadius: 4 },
          { label: data.weightedLabel, data: data.weighted.map(number), backgroundColor: TEAL, borderRadius: 4 },
        ],
      },
      options: chartOptions({
        plugins: {
          legend: LEGEND,
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money.format(item.raw)}` } },
        },
        scales: {
          y: { beginAtZero: true, ticks: { callback: (value) => compact.format(value) } },
          x: { grid: { display: false } },
        },
      }),
    });
  }

  function tierChart(data) {
    const canvas = document.getElementById("tier-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: data.winRate.map(number),
            backgroundColor: tierColours(data.tiers),
            borderRadius: 4,
          },
        ],
      },
      options: chartOptions({
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => `${data.label}: ${item.raw === null ? "—" : item.raw}` } },
        },
        scales: {
          y: { beginAtZero: true, max: 100, ticks: { callback: percentTick } },
          x: { grid: { display: false } },
        },
      }),
    });
  }

  function daysChart(data) {
    const canvas = document.getElementById("days-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.medianLabel, data: data.median.map(number), backgroundColor: BLUE, borderRadius: 4 },
          { label: data.expectedLabel, data: data.expected, backgroundColor: GREY, borderRadius: 4 },
        ],
      },
      options: chartOptions({
        plugins: { legend: LEGEND },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } },
      }),
    });
  }

  function cycleChart(data) {
    const canvas = document.getElementById("cycle-chart");
    if (!canvas) return;
    replace(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          {
            type: "line",
            label: data.medianLabel,
            data: data.median.map(number),
            borderColor: BRAND,
            backgroundColor: BRAND,
            cubicInterpolationMode: "monotone",
            spanGaps: true,
            yAxisID: "days",
            order: 1,
          },
          {
            type: "line",
            label: data.meanLabel,
            data: data.mean.map(number),
            borderColor: ORANGE,
            backgroundColor: ORANGE,
            borderDash: [6, 4],
            cubicInterpolationMode: "monotone",
            spanGaps: true,
            yAxisID: "days",
            order: 2,
          },
          {
            type: "bar",
            label: data.dealsLabel,
            data: data.deals,
            backgroundColor: `${TEAL}55`,
            borderRadius: 3,
            yAxisID: "deals",
            order: 3,
          },
        ],
      },
      options: chartOptions({
        interaction: { mode: "index", intersect: false },
        plugins: { legend: LEGEND },
        scales: {
          days: {
            type: "linear",
            position: "left",
            beginAtZero: true,
            title: { display: true, text: data.daysAxis },
          },
          deals: {
            type: "linear",
            position: "right",
            beginAtZero: true,
            ticks: { precision: 0 },
            grid: { drawOnChartArea: false },
            title: { display: true, text: data.dealsAxis },
          },
          x: { grid: { display: false } },
        },
      }),
    });
  }

  window.crmCharts.onReady("funnel-analytics-data", (data) => {
    funnelChart(data.funnel);
    stageChart(data.stages);
    tierChart(data.tiers);
    daysChart(data.days);
    cycleChart(data.cycle);
  });
})();

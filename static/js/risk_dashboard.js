// Risk dashboard: new alerts per week, exposure by tier and the three indicators month by month.
// The numbers come from the page's json_script block (#risk-dashboard-data) and are also in the
// tables beside the charts, so the page is complete without script. Shared setup: static/js/charts.js.
(() => {
  "use strict";

  const { GREY, BRAND, LEGEND, tierColours, chartOptions, percentTick, number, replace, money } = window.crmCharts;

  // Same colours as the severity badges (Bootstrap danger / warning / info).
  const SEVERITY_COLOURS = { critical: "#dc3545", warning: "#ffc107", info: "#0dcaf0" };
  const KPI_COLOURS = { recovery_rate: "#146c43", portfolio_risk: "#dc3545", screening_efficiency: BRAND };

  function weeksChart(data) {
    const canvas = document.getElementById("weeks-chart");
    if (!canvas) return;
    replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map((series) => ({
          label: series.label,
          data: series.data,
          backgroundColor: SEVERITY_COLOURS[series.severity] || GREY,
          borderRadius: 3,
        })),
      },
      options: chartOptions({
        interaction: { mode: "index", intersect: false },
        plugins: { legend: LEGEND },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: data.axis } },
        },
      }),
    });
  }

  function tierChart(data) {
    const canvas = document.getElementById("tier-chart");
    if (!canvas) return;
    const values = data.outstanding.map(number);
    if (!values.some((value) => value > 0)) {
      canvas.closest(".card-body")?.classList.add("d-none"); // nothing outstanding: the table says so
      return;
    }
    replace(canvas, {
      type: "doughnut",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: values,
            backgroundColor: tierColours(data.tiers),
            borderWidth: 1,
          },
        ],
      },
      options: chartOptions({
        cutout: "55%",
        plugins: {
          legend: { ...LEGEND, position: "right" },
          tooltip: { callbacks: { label: (item) => `${item.label}: ${money.format(item.raw)}` } },
        },
      }),
    });
  }

  function kpiChart(data) {
    const canvas = document.getElementById("kpi-chart");
    if (!canvas) return;
    const datasets = [];
    for (const series of data.series) {
      const colour = KPI_COLOURS[series.key] || GREY;
      datasets.push({
        label: series.label,
        data: series.data.map(number),
        borderColor: colour,
        backgroundColor: colour,
        // Straight segments between the months: a smoothed curve invents values between them
        // and overshoots. A month without a meaningful rate is null and stays a gap.
        tension: 0,
        spanGaps: false,
      });
      if (series.baseline !== null) {
        // The baseline as a flat dashed line across the months, in the indicator's colour.
        datasets.push({
          label: series.baselineLabel,
          data: series.data.map(() => number(series.baseline)),
          borderColor: colour,
          backgroundColor: colour,
          borderDash: [6, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          pointHoverRadius: 0,
        });
      }
    }
    replace(canvas, {
      type: "line",
      data: { labels: data.labels, datasets },
      options: chartOptions({
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: LEGEND,
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${item.raw === null ? "—" : `${item.raw.toFixed(1)}%`}`,
            },
          },
        },
        scales: {
          y: { beginAtZero: true, ticks: { callback: percentTick }, title: { display: true, text: data.axis } },
          x: { grid: { display: false } },
        },
      }),
    });
  }

  window.crmCharts.onReady("risk-dashboard-data", (data) => {
    weeksChart(data.weeks);
    tierChart(data.tiers);
    kpiChart(data.kpis);
  });
})();

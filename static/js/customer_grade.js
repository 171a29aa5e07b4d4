// Bar chart of each criterion's contribution to the score (customer page). Data comes from a
// json_script element; the same numbers are in the table beside it.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("grade-chart");
  const source = document.getElementById("grade-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        // Lower "order" is drawn on top: the earned points over the grey maximum.
        { label: "earned", data: data.points, backgroundColor: "#0b3d5c", order: 1 },
        { label: "weight", data: data.max, backgroundColor: "#dee2e6", order: 2 },
      ],
    },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: { x: { stacked: false, beginAtZero: true }, y: { ticks: { autoSkip: false } } },
      datasets: { bar: { grouped: false } },
    },
  });
});

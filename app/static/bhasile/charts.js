/* BHasile — draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">.
   No inline script: the page only carries data. Clicking a bar or point opens the list behind it. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  Chart.defaults.locale = "fr-FR";
  Chart.defaults.font.family = "Marianne, arial, sans-serif";
  Chart.defaults.color = "#3a3a3a";  /* DSFR grey-200 text */
  Chart.defaults.borderColor = "#dddddd";  /* DSFR default border */

  /* The one place for chart colours: blue France, then DSFR illustrative colours chosen for at least
     3:1 contrast on white (RGAA 3.3, graphical elements): green-emeraude main, purple-glycine main,
     pink-tuile main, blue-ecume main, green-archipel main, green-tilleul-verveine sun, brown-café-crème sun. */
  var PALETTE = ["#000091", "#00a95f", "#a558a0", "#ce614a", "#465f9d", "#009099", "#66673d", "#685c48"];
  var numberFr = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 2 });

  function format(value, unit) {
    if (value === null || value === undefined) { return "–"; }
    if (unit === "%") { return numberFr.format(value) + " %"; }
    if (unit === "€") { return numberFr.format(value) + " €"; }
    return numberFr.format(value);
  }

  function datasets(config) {
    return config.datasets.map(function (ds, i) {
      var color = PALETTE[i % PALETTE.length];
      var out = {
        label: ds.label, data: ds.data, yAxisID: ds.yAxisID || "y",
        backgroundColor: color, borderColor: color, unit: ds.unit || ""
      };
      if (ds.type) { out.type = ds.type; out.fill = false; }
      if (ds.style === "marks") {  /* a ceiling per category: a mark, not a line across categories */
        out.type = "line"; out.showLine = false; out.pointStyle = "line";
        out.pointRadius = 14; out.pointHoverRadius = 16; out.pointBorderWidth = 3;
      }
      return out;
    });
  }

  function scales(config) {
    var result = { y: { beginAtZero: true, stacked: !!config.stacked }, x: { stacked: !!config.stacked } };
    var needsRight = config.datasets.some(function (ds) { return ds.yAxisID === "y1"; });
    if (needsRight) {
      result.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
    }
    return result;
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    var links = config.links || [];
    new Chart(canvas, {
      type: config.type || "bar",
      data: { labels: config.labels, datasets: datasets(config) },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: scales(config),
        plugins: {
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + " : " + format(ctx.parsed.y, ctx.dataset.unit);
              }
            }
          }
        },
        onClick: function (_event, elements) {
          if (!elements.length) { return; }
          var href = links[elements[0].index];
          if (href) { window.location.assign(href); }
        },
        onHover: function (event, elements) {
          var target = event.native ? event.native.target : null;
          if (target) { target.style.cursor = elements.length && links[elements[0].index] ? "pointer" : "default"; }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  });
})();

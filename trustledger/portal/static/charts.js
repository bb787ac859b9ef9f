// Every <div class="chart" data-option="…"> becomes an ECharts chart: the server builds the
// whole option (series, axes, marks), so this file only hands it over and keeps it sized.
(function () {
  "use strict";
  var charts = [];
  document.querySelectorAll(".chart[data-option]").forEach(function (el) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(JSON.parse(el.dataset.option));
    el.dataset.rendered = "true";
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();

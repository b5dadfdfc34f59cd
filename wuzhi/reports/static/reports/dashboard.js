/* The dashboard's charts: ECharts (vendored) draws the Chart dicts of wuzhi.reports.series, the
   same data the work report renders as images. One renderer per chart kind. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wz-charts").textContent);
  var COLORS = ["#b22222", "#2f6db5", "#e6a23c", "#3a9d5d", "#8e44ad", "#16a2b8", "#7f8c8d"];
  var phone = window.matchMedia("(max-width: 575.98px)").matches;
  var base = {
    color: COLORS,
    textStyle: { fontFamily: "PingFang SC, Noto Sans CJK SC, Microsoft YaHei, sans-serif" },
    title: { left: "center", top: 0, textStyle: { fontSize: 14, fontWeight: 600 } },
    legend: { bottom: 0, type: "scroll" },
    tooltip: { trigger: "axis", confine: true },
    grid: { left: 8, right: 8, top: 44, bottom: 36, containLabel: true }
  };

  function withBase(chart, option) {
    var o = Object.assign({}, base, option);
    o.title = Object.assign({}, base.title, { text: chart.title });
    return o;
  }

  var render = {
    bar_line: function (chart) {
      var hasRight = chart.series.some(function (s) { return s.axis; });
      var axes = [{ type: "value", name: (chart.series.find(function (s) { return !s.axis; }) || {}).unit || "", minInterval: 1 }];
      if (hasRight) {
        axes.push({ type: "value", name: chart.series.find(function (s) { return s.axis; }).unit, splitLine: { show: false } });
      }
      return withBase(chart, {
        xAxis: { type: "category", data: chart.categories, axisLabel: { interval: phone ? "auto" : 0 } },
        yAxis: axes,
        series: chart.series.map(function (s) {
          return s.axis
            ? { name: s.name, type: "line", yAxisIndex: 1, data: s.data, smooth: true, connectNulls: true }
            : { name: s.name, type: "bar", stack: s.stack, data: s.data, barMaxWidth: 28 };
        })
      });
    },
    pyramid: function (chart) {
      var male = chart.series[0], female = chart.series[1];
      return withBase(chart, {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
                   valueFormatter: function (v) { return Math.abs(v) + " 人"; } },
        // Symmetric, so men and women compare at a glance; room on the right for the last label.
        grid: Object.assign({}, base.grid, { left: 12, right: 24 }),
        xAxis: { type: "value", max: function (v) { return Math.max(-v.min, v.max); },
                 min: function (v) { return -Math.max(-v.min, v.max); },
                 axisLabel: { formatter: function (v) { return Math.abs(v); }, hideOverlap: true } },
        yAxis: { type: "category", data: chart.categories, axisTick: { show: false } },
        series: [
          { name: male.name, type: "bar", stack: "p", data: male.data.map(function (v) { return -v; }), color: COLORS[1],
            label: { show: !phone, position: "left", formatter: function (p) { return Math.abs(p.value); } } },
          { name: female.name, type: "bar", stack: "p", data: female.data, color: COLORS[0],
            label: { show: !phone, position: "right" } }
        ]
      });
    },
    pie: function (chart) {
      var s = chart.series[0];
      return withBase(chart, {
        tooltip: { trigger: "item", confine: true },
        grid: undefined,
        series: [{ name: s.name, type: "pie", radius: ["35%", "62%"], center: ["50%", "52%"],
                   label: { formatter: "{b} {c}" },
                   data: chart.categories.map(function (c, i) { return { name: c, value: s.data[i] }; }) }]
      });
    }
  };

  var instances = [];
  document.querySelectorAll(".wz-chart").forEach(function (el) {
    var chart = data.find(function (c) { return c.key === el.dataset.chart; });
    if (!chart || !render[chart.kind] || typeof echarts === "undefined") { return; }
    var instance = echarts.init(el, null, { renderer: "canvas" });
    instance.setOption(render[chart.kind](chart));
    instances.push(instance);
  });
  window.addEventListener("resize", function () { instances.forEach(function (i) { i.resize(); }); });
})();

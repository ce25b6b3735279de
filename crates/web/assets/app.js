// Jicha pages: draws every chart from the JSON option beside it, and "check all" boxes.
// No inline scripts (the Content-Security-Policy forbids them); nothing is loaded from outside.
(function () {
  "use strict";
  function drawCharts() {
    if (!window.echarts) return;
    document.querySelectorAll("div.chart[data-option]").forEach(function (box) {
      var data = document.getElementById(box.getAttribute("data-option"));
      if (!data) return;
      var chart = window.echarts.init(box, null, { renderer: "canvas" });
      var option = JSON.parse(data.textContent);
      option.animation = false; // drawn at once: office machines, printing, screenshots
      chart.setOption(option);
      box.setAttribute("data-drawn", "true");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  function checkAll() {
    document.querySelectorAll("input[data-check-all]").forEach(function (all) {
      all.addEventListener("change", function () {
        var name = all.getAttribute("data-check-all");
        document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
          b.checked = all.checked;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(); checkAll(); });
})();

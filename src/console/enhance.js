// crier console: enhancements only; every page works without this file.
// Moves focus to an error summary so screen readers announce it at once.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".govuk-error-summary");
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
  // Live character counts under fields that declare a limit.
  document.querySelectorAll("[data-crier-count]").forEach(function (field) {
    var out = document.getElementById(field.id + "-count");
    if (!out) return;
    var limit = parseInt(field.getAttribute("data-crier-count"), 10);
    var update = function () {
      var n = Array.from(field.value).length;
      out.textContent = n <= limit ? "You have " + (limit - n) + " characters remaining" : "You have " + (n - limit) + " characters too many";
    };
    field.addEventListener("input", update);
  });
  // Radios with conditional reveal: only the chosen radio's fields show
  // (without this script they all show, and the chosen radio decides).
  var reveals = [];
  document.querySelectorAll(".govuk-radios__input[data-aria-controls]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-aria-controls"));
    if (!target) return;
    input.setAttribute("aria-controls", target.id);
    input.removeAttribute("data-aria-controls");
    reveals.push([input, target]);
  });
  var sync = function () {
    reveals.forEach(function (pair) {
      pair[1].classList.toggle("govuk-radios__conditional--hidden", !pair[0].checked);
    });
  };
  sync();
  reveals.forEach(function (pair) {
    pair[0].addEventListener("change", sync);
  });
});

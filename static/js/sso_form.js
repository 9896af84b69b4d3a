// Single sign-on settings: show only the chosen type's fields. Without this file both groups
// show, each legend naming its type; the server (accounts.sso_config) decides what is needed.
(function () {
  "use strict";

  function showChosenType(form) {
    var radios = form.querySelectorAll('input[name="type"]');
    var groups = form.querySelectorAll("[data-sso-type]");
    if (!radios.length || !groups.length) {
      return;
    }
    function update() {
      var chosen = form.querySelector('input[name="type"]:checked');
      groups.forEach(function (group) {
        group.hidden = Boolean(chosen) && group.dataset.ssoType !== chosen.value;
      });
    }
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-sso-form]").forEach(showChosenType);
  });
})();

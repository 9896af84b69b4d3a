// Doorman portal: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Removing the Organization Administrator role needs a confirmation. Without JavaScript the
  // server asks for it with a checkbox; with it, a dialog asks before the form is sent.
  function confirmRoleRemoval(form) {
    var roleBox = form.querySelector('input[name="is_admin"]');
    if (!roleBox || form.dataset.holdsRole !== "true") {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (roleBox.checked || form.querySelector('input[name="confirm_role_removal"]')) {
        return;
      }
      var question = "Remove the Organization Administrator role? Its permissions go with it.";
      if (!window.confirm(question)) {
        event.preventDefault();
        return;
      }
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirm_role_removal";
      confirmed.value = "on";
      form.appendChild(confirmed);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-permissions-form]").forEach(confirmRoleRemoval);
  });
})();

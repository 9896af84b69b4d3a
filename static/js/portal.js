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

  // On narrow screens the side navigation is a drawer opened by a Menu button in the top bar.
  // Without JavaScript it stays a plain list; the CSS shows the buttons and the drawer only
  // under .has-drawer and at most 768 px wide.
  var NARROW = "(max-width: 768px)";

  function makeButton(className, label, hiddenSuffix) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.appendChild(document.createTextNode(label));
    if (hiddenSuffix) {
      var suffix = document.createElement("span");
      suffix.className = "visually-hidden";
      suffix.textContent = hiddenSuffix;
      button.appendChild(suffix);
    }
    return button;
  }

  function sideNavigationDrawer(drawer) {
    var topbar = document.querySelector(".topbar");
    var head = drawer.querySelector(".sidenav-head");
    if (!topbar || !head || document.body.classList.contains("entrance")) {
      return;
    }
    var button = makeButton("menu-button", "Menu");
    var icon = document.createElement("span");
    icon.className = "menu-icon";
    icon.setAttribute("aria-hidden", "true");
    button.insertBefore(icon, button.firstChild);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", drawer.id);
    topbar.insertBefore(button, topbar.firstChild);
    var closeButton = makeButton("button sidenav-close", "Close", " menu");
    head.appendChild(closeButton);
    var backdrop = document.createElement("div");
    backdrop.className = "drawer-backdrop";
    backdrop.hidden = true;
    drawer.parentNode.insertBefore(backdrop, drawer.nextSibling);
    document.documentElement.classList.add("has-drawer");

    function focusable() {
      return Array.prototype.filter.call(
        drawer.querySelectorAll("a[href], button:not([hidden])"),
        function (element) { return element.offsetParent !== null; }
      );
    }

    function isOpen() {
      return button.getAttribute("aria-expanded") === "true";
    }

    function open() {
      button.setAttribute("aria-expanded", "true");
      drawer.classList.add("is-open");
      backdrop.hidden = false;
      document.body.classList.add("drawer-open");
      var target = drawer.querySelector('a[aria-current="page"]') || focusable()[0];
      if (target) {
        target.focus();
      }
    }

    function close(returnFocus) {
      if (!isOpen()) {
        return;
      }
      button.setAttribute("aria-expanded", "false");
      drawer.classList.remove("is-open");
      backdrop.hidden = true;
      document.body.classList.remove("drawer-open");
      if (returnFocus) {
        button.focus();
      }
    }

    button.addEventListener("click", function () {
      if (isOpen()) {
        close(true);
      } else {
        open();
      }
    });
    closeButton.addEventListener("click", function () { close(true); });
    backdrop.addEventListener("click", function () { close(true); });
    document.addEventListener("keydown", function (event) {
      if (!isOpen()) {
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        close(true);
      } else if (event.key === "Tab") {
        // Keep the focus inside the open drawer.
        var items = focusable();
        var first = items[0];
        var last = items[items.length - 1];
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    var narrow = window.matchMedia(NARROW);
    narrow.addEventListener("change", function () {
      if (!narrow.matches) {
        close(false);
      }
    });
  }

  // -- Copy buttons: a hidden <button data-copy="id"> next to a .copy-status copies that
  // element's text (without JavaScript the value stays on the page to select by hand). --------
  function flash(status, text) {
    status.textContent = text;
    status.classList.add("copy-status-visible");
    window.clearTimeout(status._timer);
    status._timer = window.setTimeout(function () {
      status.classList.remove("copy-status-visible");
      status.textContent = "";
    }, 4000);
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Copies `target`'s text and says so in `status`; without a clipboard it selects the text
  // for Ctrl+C. Also window.DoormanCopy, for the buttons a page's script builds (playground.js).
  function copyText(target, status) {
    function byHand() {
      selectText(target);
      flash(status, "Press Ctrl+C (⌘C) to copy");
    }
    if (!navigator.clipboard) {
      byHand();
      return;
    }
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      flash(status, "Copied");
    }, byHand);
  }
  window.DoormanCopy = copyText;

  function setUpCopy(button) {
    var target = document.getElementById(button.dataset.copy);
    var status = button.parentNode.querySelector(".copy-status");
    if (!target || !status || !navigator.clipboard) {
      return; // the value stays on the page to select by hand
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(target, status);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-permissions-form]").forEach(confirmRoleRemoval);
    document.querySelectorAll("[data-copy]").forEach(setUpCopy);
    document.querySelectorAll("nav.sidenav[id]").forEach(sideNavigationDrawer);
  });
})();

// Connected Apps pages: progressive enhancements only. Without this file the Create App form
// is one long form the server validates, the copy buttons stay hidden (the values can still
// be selected), and the scope picker shows every field.
(function () {
  "use strict";

  function qsa(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  // -- Copy buttons ----------------------------------------------------------------------------
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

  function setUpCopy(button) {
    var target = document.getElementById(button.dataset.copy);
    var status = button.parentNode.querySelector(".copy-status");
    if (!target || !status || !navigator.clipboard) {
      return; // the value stays on the page to select by hand
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(
        function () {
          flash(status, "Copied");
        },
        function () {
          selectText(target);
          flash(status, "Press Ctrl+C (⌘C) to copy");
        }
      );
    });
  }

  // -- Forms that ask first ------------------------------------------------------------------
  function setUpConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  // -- Scope picker ----------------------------------------------------------------------------
  // A permission scope's "applies in" fields only matter once the scope is ticked.
  function setUpScopePicker(picker) {
    qsa(picker, "[data-scope-item]").forEach(function (item) {
      var box = item.querySelector("[data-scope-checkbox]");
      var context = item.querySelector("[data-scope-context]");
      if (!box || !context) {
        return;
      }
      function sync() {
        context.classList.toggle("scope-context-off", !box.checked);
      }
      box.addEventListener("change", sync);
      sync();
    });
  }

  // -- Create App wizard -----------------------------------------------------------------------
  function Wizard(form) {
    this.form = form;
    this.steps = qsa(form, "[data-step]");
    this.list = form.querySelector("[data-wizard-steps]");
    this.back = form.querySelector("[data-wizard-back]");
    this.next = form.querySelector("[data-wizard-next]");
    this.save = form.querySelector("[data-wizard-save]");
    this.ownerPaths = readJSON("owner-paths");
    this.contextPaths = readJSON("context-org-paths");
    this.environmentPaths = readJSON("environment-org-paths");
    this.index = 0;
    this.reached = 0;
  }

  Wizard.prototype.type = function () {
    var checked = this.form.querySelector("[data-app-type]:checked");
    return checked ? checked.value : "user";
  };

  // Show what fits the app's type; what does not fit is disabled so it is never sent.
  Wizard.prototype.applyType = function () {
    var type = this.type();
    qsa(this.form, "[data-for-type]").forEach(function (node) {
      var fits = node.dataset.forType === type;
      node.hidden = !fits;
      qsa(node, "input, select, textarea").forEach(function (input) {
        input.disabled = !fits;
      });
    });
  };

  // Scopes of an own-behalf app apply inside the owner's subtree only.
  Wizard.prototype.applyOwner = function () {
    var select = this.form.querySelector("select[name=owner]");
    var ownerPath = select ? this.ownerPaths[select.value] : null;
    if (!ownerPath) {
      return;
    }
    var self = this;
    qsa(this.form, "[data-scope-context] option").forEach(function (option) {
      var path = self.contextPaths[option.value] || self.environmentPaths[option.value];
      var inside = !path || path.indexOf(ownerPath) === 0;
      option.disabled = !inside;
      if (!inside) {
        option.selected = false;
      }
    });
  };

  Wizard.prototype.renderList = function () {
    var self = this;
    this.list.innerHTML = "";
    this.steps.forEach(function (step, i) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "wizard-step-link";
      button.innerHTML = '<span class="wizard-step-number"></span><span></span>';
      button.firstChild.textContent = String(i + 1);
      button.lastChild.textContent = step.dataset.stepTitle;
      button.disabled = i > self.reached;
      if (i === self.index) {
        li.setAttribute("aria-current", "step");
        li.className = "current";
      } else if (i < self.index) {
        li.className = "done";
      }
      button.addEventListener("click", function () {
        self.show(i);
      });
      li.appendChild(button);
      self.list.appendChild(li);
    });
  };

  Wizard.prototype.show = function (index, keepFocus) {
    this.index = index;
    this.reached = Math.max(this.reached, index);
    this.steps.forEach(function (step, i) {
      step.hidden = i !== index;
    });
    var last = index === this.steps.length - 1;
    this.back.hidden = index === 0;
    this.next.hidden = last;
    this.save.hidden = !last;
    if (last) {
      this.renderReview();
    }
    this.renderList();
    var heading = this.steps[index].querySelector("h2");
    if (heading && !keepFocus) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  };

  Wizard.prototype.stepError = function (step, text) {
    var alert = step.querySelector("[data-step-error]");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "field-error";
      alert.setAttribute("role", "alert");
      alert.setAttribute("data-step-error", "");
      step.querySelector("h2").insertAdjacentElement("afterend", alert);
    }
    alert.textContent = text || "";
    alert.hidden = !text;
    return !text;
  };

  Wizard.prototype.checked = function (selector) {
    return qsa(this.form, selector + ":checked:not(:disabled)").map(function (input) {
      return input.value;
    });
  };

  Wizard.prototype.validate = function (step) {
    var inputs = qsa(step, "input, select, textarea").filter(function (input) {
      return !input.disabled;
    });
    for (var i = 0; i < inputs.length; i++) {
      if (!inputs[i].checkValidity()) {
        inputs[i].reportValidity();
        return false;
      }
    }
    var user = this.type() === "user";
    var grants = this.checked("[data-grant]");
    if (user && step.querySelector("[data-grant]")) {
      if (!grants.length) {
        return this.stepError(step, "Choose at least one grant type.");
      }
      if (grants.length === 1 && grants[0] === "refresh_token") {
        return this.stepError(step, "Refresh token needs authorization code, password or JWT bearer.");
      }
    }
    if (user && step.querySelector("[name=redirect_uris]")) {
      if (grants.indexOf("authorization_code") !== -1 && !this.value("redirect_uris")) {
        return this.stepError(step, "Authorization code apps need at least one redirect URI.");
      }
      if (grants.indexOf("urn:ietf:params:oauth:grant-type:jwt-bearer") !== -1 && !this.value("public_keys")) {
        return this.stepError(step, "JWT bearer apps need at least one public key.");
      }
    }
    return this.stepError(step, "");
  };

  Wizard.prototype.value = function (name) {
    var field = this.form.querySelector("[name=" + name + "]");
    return field && !field.disabled ? field.value.trim() : "";
  };

  Wizard.prototype.selectedLabels = function (select) {
    return qsa(select, "option:checked").map(function (option) {
      var group = option.parentNode.tagName === "OPTGROUP" ? option.parentNode.label + " / " : "";
      return group + option.textContent.trim();
    });
  };

  Wizard.prototype.renderReview = function () {
    var form = this.form;
    var self = this;
    var user = this.type() === "user";
    var rows = [];
    function label(input) {
      if (!input) {
        return "";
      }
      var card = input.closest("label");
      var title = card && card.querySelector(".choice-title");
      if (title) {
        return title.textContent.trim();
      }
      var node = form.querySelector('label[for="' + input.id + '"]');
      return node ? node.firstChild.textContent.trim() : input.value;
    }
    rows.push(["App name", [this.value("client_name")]]);
    rows.push(["Type", [label(form.querySelector("[data-app-type]:checked"))]]);
    if (user) {
      rows.push(["Grant types", qsa(form, "[data-grant]:checked").map(label)]);
      rows.push(["Redirect URIs", this.value("redirect_uris").split(/\s+/).filter(Boolean)]);
    } else {
      rows.push(["Grant types", ["Client credentials"]]);
    }
    rows.push(["Website URL", [this.value("website_url")].filter(Boolean)]);
    if (user) {
      var keys = (this.value("public_keys").match(/-----BEGIN/g) || []).length;
      rows.push(["Public keys", keys ? [keys + " PEM key" + (keys > 1 ? "s" : "")] : []]);
      var audience = form.querySelector("[name=audience]:checked");
      rows.push(["Who can use it", audience ? [label(audience)] : []]);
    }
    var scopes = qsa(form, "[data-scope-checkbox]:checked:not(:disabled)").map(function (box) {
      var text = box.dataset.description + " (" + box.value + ")";
      var item = box.closest("[data-scope-item]");
      if (!user && item) {
        var where = [];
        qsa(item, "[data-scope-context] select").forEach(function (select) {
          where = where.concat(self.selectedLabels(select));
        });
        text += where.length ? " in " + where.join(", ") : " in the owner organization";
      }
      return text;
    });
    rows.push(["Scopes", scopes]);
    var owner = form.querySelector("select[name=owner]");
    rows.push(["Owner", owner ? this.selectedLabels(owner) : []]);

    var list = form.querySelector("[data-review]");
    list.innerHTML = "";
    rows.forEach(function (row) {
      var dt = document.createElement("dt");
      dt.textContent = row[0];
      var dd = document.createElement("dd");
      if (!row[1].length) {
        dd.textContent = "None";
        dd.className = "muted";
      } else if (row[1].length === 1) {
        dd.textContent = row[1][0];
      } else {
        var ul = document.createElement("ul");
        row[1].forEach(function (value) {
          var li = document.createElement("li");
          li.textContent = value;
          ul.appendChild(li);
        });
        dd.appendChild(ul);
      }
      list.appendChild(dt);
      list.appendChild(dd);
    });
  };

  Wizard.prototype.firstStepWithErrors = function () {
    for (var i = 0; i < this.steps.length; i++) {
      if (this.steps[i].querySelector(".field-error, .field-invalid")) {
        return i;
      }
    }
    return -1;
  };

  Wizard.prototype.start = function () {
    var self = this;
    var form = this.form;
    form.classList.add("wizard-js");
    form.querySelector("[data-review-step]").hidden = false;
    this.list.hidden = false;
    this.next.hidden = false;

    qsa(form, "[data-app-type]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        self.applyType();
      });
    });
    var owner = form.querySelector("select[name=owner]");
    if (owner) {
      owner.addEventListener("change", function () {
        self.applyOwner();
      });
    }
    this.next.addEventListener("click", function () {
      if (self.validate(self.steps[self.index])) {
        self.show(self.index + 1);
      }
    });
    this.back.addEventListener("click", function () {
      self.show(self.index - 1);
    });
    // Enter in a text field moves on instead of sending a half-filled form.
    form.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "submit") {
        event.preventDefault();
        if (self.index < self.steps.length - 1) {
          self.next.click();
        }
      }
    });
    form.addEventListener("submit", function (event) {
      if (self.index !== self.steps.length - 1) {
        event.preventDefault();
      }
    });

    this.applyType();
    this.applyOwner();
    var withErrors = this.firstStepWithErrors();
    if (withErrors >= 0) {
      this.reached = this.steps.length - 1; // a sent form: every step was seen
    }
    this.show(Math.max(withErrors, 0), withErrors < 0);
  };

  document.addEventListener("DOMContentLoaded", function () {
    qsa(document, "[data-copy]").forEach(setUpCopy);
    qsa(document, "form[data-confirm]").forEach(setUpConfirm);
    qsa(document, "[data-scope-picker]").forEach(setUpScopePicker);
    qsa(document, "form[data-wizard]").forEach(function (form) {
      new Wizard(form).start();
    });
  });
})();

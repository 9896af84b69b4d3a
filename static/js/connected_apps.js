// Connected Apps pages: progressive enhancements only. Without this file the Create App form
// is one long form the server validates and the scope picker shows every field. (Copy buttons
// are portal.js's, on every page.)
(function () {
  "use strict";

  function qsa(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
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
  // A permission scope's "where it applies" checkboxes only matter once the scope is ticked.
  // An org ticked "all environments" and one of its environments ticked say different things
  // (the server keeps the environment): ticking one unticks the other, so what shows is what
  // is saved.
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
    qsa(picker, "[data-context-org]").forEach(function (row) {
      var org = row.querySelector("input:not([data-context-env])");
      var envs = qsa(row, "[data-context-env]");
      org.addEventListener("change", function () {
        if (org.checked) {
          envs.forEach(function (env) {
            env.checked = false;
          });
        }
      });
      envs.forEach(function (env) {
        env.addEventListener("change", function () {
          if (env.checked) {
            org.checked = false;
          }
        });
      });
    });
  }

  // -- Create App wizard -----------------------------------------------------------------------
  // What applies depends on earlier answers: the app's type (data-for-type, and whole steps
  // with data-step-for-type), its grant types (data-for-grant) and its owner (the orgs a scope
  // can apply in, data-context-org). What does not apply is hidden and disabled, so it is
  // never sent; the server decides anyway.
  var CONDITIONS = ["[data-for-type]", "[data-for-grant]", "[data-context-org]"];
  var NOT_APPLYING = CONDITIONS.map(function (selector) {
    return selector + "[hidden]";
  }).join(", ");

  function Wizard(form) {
    this.form = form;
    this.allSteps = qsa(form, "[data-step]");
    this.steps = this.allSteps;
    this.list = form.querySelector("[data-wizard-steps]");
    this.back = form.querySelector("[data-wizard-back]");
    this.next = form.querySelector("[data-wizard-next]");
    this.save = form.querySelector("[data-wizard-save]");
    this.ownerPaths = readJSON("owner-paths");
    this.contextPaths = readJSON("context-org-paths");
    this.index = 0;
    this.reached = 0;
    this.errors = [];
  }

  Wizard.prototype.type = function () {
    var checked = this.form.querySelector("[data-app-type]:checked");
    return checked ? checked.value : "user";
  };

  Wizard.prototype.grants = function () {
    return this.checked("[data-grant]");
  };

  Wizard.prototype.fits = function (node) {
    var data = node.dataset;
    if (data.forType && data.forType !== this.type()) {
      return false;
    }
    if (data.forGrant && this.grants().indexOf(data.forGrant) === -1) {
      return false;
    }
    if (data.contextOrg) {
      // Scopes of an own-behalf app apply inside the owner's subtree only.
      var owner = this.form.querySelector("select[name=owner]");
      var ownerPath = owner ? this.ownerPaths[owner.value] : null;
      var path = this.contextPaths[data.contextOrg];
      if (ownerPath && path && path.indexOf(ownerPath) !== 0) {
        return false;
      }
    }
    return true;
  };

  Wizard.prototype.applyAnswers = function () {
    var self = this;
    var type = this.type();
    // Grant types first: whether they are sent depends on the type only.
    [CONDITIONS[0], CONDITIONS.slice(1).join(", ")].forEach(function (selector) {
      qsa(self.form, selector).forEach(function (node) {
        node.hidden = !self.fits(node);
      });
      qsa(self.form, "input, select, textarea").forEach(function (input) {
        if (input.type !== "hidden") {
          input.disabled = input.closest(NOT_APPLYING) !== null;
        }
      });
    });
    qsa(this.form, "[name=redirect_uris], [name=public_keys]").forEach(function (input) {
      // Shown only for the grant that needs it, so shown means required.
      input.setAttribute("aria-required", String(!input.disabled));
    });
    this.steps = this.allSteps.filter(function (step) {
      return !step.dataset.stepForType || step.dataset.stepForType === type;
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
    var current = this.steps[index];
    this.index = index;
    this.reached = Math.max(this.reached, index);
    this.allSteps.forEach(function (step) {
      step.hidden = step !== current;
    });
    var last = index === this.steps.length - 1;
    this.back.hidden = index === 0;
    this.next.hidden = last;
    this.save.hidden = !last;
    if (last) {
      this.renderReview();
    }
    this.renderList();
    var heading = current.querySelector("h2");
    if (heading && !keepFocus) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  };

  // An answer refused before sending: the message goes under the field (or group), is
  // announced, named by the field's aria-describedby, and the field gets the focus.
  Wizard.prototype.refuse = function (field, text, focusTarget) {
    var message = document.createElement("p");
    message.className = "field-error";
    message.id = (field.id || field.dataset.errorId || "wizard") + "-client-error";
    message.setAttribute("role", "alert");
    message.textContent = text;
    var container = field.tagName === "FIELDSET" ? field : field.closest(".field");
    (container || field.parentNode).appendChild(message);
    var describedBy = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + message.id);
    field.setAttribute("aria-invalid", "true");
    this.errors.push({ field: field, message: message, describedBy: describedBy });
    (focusTarget || field).focus();
    return false;
  };

  Wizard.prototype.clearRefusals = function () {
    this.errors.forEach(function (error) {
      error.message.remove();
      error.field.removeAttribute("aria-invalid");
      if (error.describedBy) {
        error.field.setAttribute("aria-describedby", error.describedBy);
      } else {
        error.field.removeAttribute("aria-describedby");
      }
    });
    this.errors = [];
  };

  Wizard.prototype.checked = function (selector) {
    return qsa(this.form, selector + ":checked:not(:disabled)").map(function (input) {
      return input.value;
    });
  };

  // Hints only, to answer before moving on: the service checks the same rules on Save.
  Wizard.prototype.validate = function (step) {
    this.clearRefusals();
    var inputs = qsa(step, "input, select, textarea").filter(function (input) {
      return !input.disabled;
    });
    for (var i = 0; i < inputs.length; i++) {
      if (!inputs[i].checkValidity()) {
        inputs[i].reportValidity();
        return false;
      }
    }
    var grantsGroup = step.querySelector("[data-grants]");
    if (grantsGroup && !grantsGroup.closest(NOT_APPLYING)) {
      var grants = this.grants();
      var first = grantsGroup.querySelector("[data-grant]");
      grantsGroup.dataset.errorId = "id_grant_types";
      if (!grants.length) {
        return this.refuse(grantsGroup, "Choose at least one grant type.", first);
      }
      if (grants.length === 1 && grants[0] === "refresh_token") {
        return this.refuse(
          grantsGroup,
          "Refresh token needs authorization code, password or JWT bearer.",
          first
        );
      }
    }
    var needed = [
      ["redirect_uris", "Authorization code apps need at least one redirect URI: where people come back after signing in."],
      ["public_keys", "JWT bearer apps need at least one public key, to check the app's assertions."],
    ];
    for (var j = 0; j < needed.length; j++) {
      var field = step.querySelector("[name=" + needed[j][0] + "]");
      if (field && !field.disabled && !field.value.trim()) {
        return this.refuse(field, needed[j][1]);
      }
    }
    return true;
  };

  Wizard.prototype.value = function (name) {
    var field = this.form.querySelector("[name=" + name + "]");
    return field && !field.disabled ? field.value.trim() : "";
  };

  Wizard.prototype.renderReview = function () {
    var form = this.form;
    var user = this.type() === "user";
    var grants = this.grants();
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
    var owner = form.querySelector("select[name=owner]");
    var ownerOption = owner && owner.selectedOptions[0];
    rows.push(["Owner", ownerOption ? [ownerOption.textContent.trim()] : []]);
    if (user) {
      rows.push(["Grant types", qsa(form, "[data-grant]:checked").map(label)]);
      if (grants.indexOf("authorization_code") !== -1) {
        rows.push(["Redirect URIs", this.value("redirect_uris").split(/\s+/).filter(Boolean)]);
      }
      if (grants.indexOf("urn:ietf:params:oauth:grant-type:jwt-bearer") !== -1) {
        var keys = (this.value("public_keys").match(/-----BEGIN/g) || []).length;
        rows.push(["Public keys", keys ? [keys + " PEM key" + (keys > 1 ? "s" : "")] : ["Given as JWK"]]);
      }
      rows.push(["Website URL", [this.value("website_url")].filter(Boolean)]);
      var audience = form.querySelector("[name=audience]:checked");
      rows.push(["Who can use it", audience ? [label(audience)] : []]);
    } else {
      rows.push(["Grant types", ["Client credentials"]]);
    }
    var scopes = qsa(form, "[data-scope-checkbox]:checked:not(:disabled)").map(function (box) {
      var text = box.dataset.description + " (" + box.value + ")";
      var item = box.closest("[data-scope-item]");
      if (!user && item) {
        var where = qsa(item, "[data-context-label]:checked:not(:disabled)").map(function (input) {
          return input.dataset.contextLabel;
        });
        text += where.length ? " in " + where.join(", ") : " in the owner organization";
      }
      return text;
    });
    rows.push(["Scopes", scopes]);

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

    function answered() {
      self.applyAnswers();
      // Later steps changed with the answer: they are to be walked through again.
      self.reached = self.index;
      self.renderList();
    }
    qsa(form, "[data-app-type], [data-grant], select[name=owner]").forEach(function (input) {
      input.addEventListener("change", answered);
    });
    // A refused answer being corrected: the message has done its work.
    form.addEventListener("input", function () {
      self.clearRefusals();
    });
    this.next.addEventListener("click", function () {
      if (self.validate(self.steps[self.index])) {
        self.show(self.index + 1);
      }
    });
    this.back.addEventListener("click", function () {
      self.clearRefusals();
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

    this.applyAnswers();
    var withErrors = this.firstStepWithErrors();
    if (withErrors >= 0) {
      this.reached = this.steps.length - 1; // a sent form: every step was seen
    }
    this.show(Math.max(withErrors, 0), withErrors < 0);
  };

  document.addEventListener("DOMContentLoaded", function () {
    qsa(document, "form[data-confirm]").forEach(setUpConfirm);
    qsa(document, "[data-scope-picker]").forEach(setUpScopePicker);
    qsa(document, "form[data-wizard]").forEach(function (form) {
      new Wizard(form).start();
    });
  });
})();

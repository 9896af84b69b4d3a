/*
 * The developer playground's end of the flow (templates/developer/playground.html), when the
 * playground itself is the redirect URI: what the <doorman-signin> element handed over (the
 * code and the PKCE verifier it kept in sessionStorage, already forgotten there), the token
 * request sent from this page, the token response with the ID token decoded, and userinfo.
 *
 * The client secret is typed for one request: it goes in that request's Authorization header
 * to the token endpoint (same origin, no cookie sent) and the field is emptied at once. It is
 * never put in a URL, in storage, or sent anywhere else. The code, the verifier and the tokens
 * live in this script's memory only.
 */
(function () {
  "use strict";

  var section = document.querySelector("[data-playground-flow]");
  if (!section) {
    return;
  }
  var tokenEndpoint = section.dataset.tokenEndpoint;
  var userinfoEndpoint = section.dataset.userinfoEndpoint;
  var outcomeBox = document.getElementById("signin-result");
  var form = document.getElementById("exchange-form");
  var secretInput = document.getElementById("exchange-secret");
  var exchangeButton = form.querySelector("button[type=submit]");
  var exchangeError = document.getElementById("exchange-error");
  var tokenBox = document.getElementById("token-result");
  var userinfoStep = document.getElementById("userinfo-step");
  var userinfoButton = document.getElementById("userinfo-button");
  var userinfoBox = document.getElementById("userinfo-result");

  var flow = null; // {code, codeVerifier, nonce, redirectUri, clientId}: until it is exchanged
  var nonce = null;
  var accessToken = null;

  // -- building blocks ---------------------------------------------------------------------------
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function copyButton(label, valueNode) {
    var wrapper = element("span", "playground-copy");
    var button = element("button", "button button-small", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", "Copy " + label);
    var status = element("span", "copy-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      window.DoormanCopy(valueNode, status); // portal.js's copy, as on every page
    });
    wrapper.append(button, status);
    return wrapper;
  }

  // A <dl> of name/value rows; a row given a copy label gets a Copy button.
  function valueList(rows) {
    var list = element("dl", "details playground-values");
    rows.forEach(function (row) {
      var name = element("dt", "", row[0]);
      var value = element("dd");
      var text = element("span", "playground-value", row[1] === null ? "" : String(row[1]));
      value.appendChild(text);
      if (row[2]) {
        value.appendChild(copyButton(row[2], text));
      }
      list.append(name, value);
    });
    return list;
  }

  function jsonBlock(value, label) {
    var block = element("pre", "snippet playground-json");
    block.tabIndex = 0; // scrollable: reachable by keyboard
    block.setAttribute("aria-label", label);
    block.appendChild(element("code", "", JSON.stringify(value, null, 2)));
    return block;
  }

  function decodeJwtPart(token, index) {
    var text = token.split(".")[index].replace(/-/g, "+").replace(/_/g, "/");
    text += "===".slice((text.length + 3) % 4);
    var bytes = Uint8Array.from(atob(text), function (c) {
      return c.charCodeAt(0);
    });
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  // The answer of an endpoint: its status and its JSON body (null when it is not JSON).
  function readAnswer(response) {
    return response.text().then(function (text) {
      var body = null;
      try {
        body = JSON.parse(text);
      } catch (problem) {
        body = null;
      }
      return {
        ok: response.ok,
        status: response.status,
        body: body,
        text: text,
        challenge: response.headers.get("WWW-Authenticate") || "",
      };
    });
  }

  // RFC 6749 §5.2 / RFC 6750 §3: `error` and `error_description` as sent, with the status.
  function showError(box, title, answer, hint) {
    box.textContent = "";
    box.appendChild(element("p", "", title));
    var body = answer.body || {};
    var rows = [["HTTP status", answer.status]];
    rows.push(["error", body.error || "(none)"]);
    if (body.error_description) {
      rows.push(["error_description", body.error_description]);
    }
    if (answer.challenge) {
      rows.push(["WWW-Authenticate", answer.challenge]);
    }
    if (!answer.body && answer.text) {
      rows.push(["body", answer.text.slice(0, 500)]);
    }
    box.appendChild(valueList(rows));
    if (hint) {
      box.appendChild(element("p", "", hint));
    }
    box.hidden = false;
  }

  function networkFailure(problem) {
    return {
      ok: false,
      status: 0,
      body: { error: "network_error", error_description: String(problem) },
      text: "",
      challenge: "",
    };
  }

  // -- 1. the code -------------------------------------------------------------------------------
  document.addEventListener("doorman-signin", function (event) {
    var detail = event.detail;
    flow = {
      code: detail.code,
      codeVerifier: detail.codeVerifier,
      redirectUri: detail.redirectUri,
      clientId: detail.clientId,
    };
    nonce = detail.nonce;
    outcomeBox.textContent = "";
    outcomeBox.appendChild(
      element(
        "p",
        "",
        "The state matched: this tab started the flow. The code can be exchanged once, within 10 minutes."
      )
    );
    outcomeBox.appendChild(
      valueList([
        ["code", detail.code, "authorization code"],
        ["code_verifier", detail.codeVerifier, "code verifier"],
        ["nonce", detail.nonce],
        ["redirect_uri", detail.redirectUri],
        ["client_id", detail.clientId, "client id"],
      ])
    );
    outcomeBox.appendChild(tryAgainLink(detail.clientId));
    form.hidden = false;
  });

  document.addEventListener("doorman-signin-error", function (event) {
    outcomeBox.textContent = "";
    showError(outcomeBox, "No sign-in: the authorization response was an error.", {
      status: "—",
      body: { error: event.detail.error, error_description: event.detail.errorDescription },
      text: "",
      challenge: "",
    });
    outcomeBox.classList.add("message", "message-error");
  });

  function tryAgainLink(clientId) {
    var again = element("a", "", "Try again with this app");
    again.href = "?" + new URLSearchParams({ app: clientId }).toString();
    return again;
  }

  // -- 2. the exchange: RFC 6749 §4.1.3 with RFC 7636 §4.5's code_verifier -----------------------
  function formEncoded(value) {
    // RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Base64.
    return new URLSearchParams({ v: value }).toString().slice(2);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!flow) {
      return;
    }
    var secret = secretInput.value;
    secretInput.value = "";
    exchangeError.hidden = true;
    exchangeButton.disabled = true;
    exchangeButton.setAttribute("aria-busy", "true");
    fetch(tokenEndpoint, {
      method: "POST",
      credentials: "omit", // an OAuth endpoint: the client authenticates, not the session
      cache: "no-store",
      headers: {
        Accept: "application/json",
        Authorization: "Basic " + btoa(formEncoded(flow.clientId) + ":" + formEncoded(secret)),
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: flow.code,
        redirect_uri: flow.redirectUri,
        code_verifier: flow.codeVerifier,
      }).toString(),
    })
      .then(readAnswer, networkFailure)
      .then(function (answer) {
        exchangeButton.removeAttribute("aria-busy");
        exchangeButton.disabled = false;
        if (answer.ok && answer.body && answer.body.access_token) {
          flow = null; // used: a second exchange would be a replay (RFC 6749 §4.1.2)
          form.hidden = true;
          showTokens(answer.body);
          return;
        }
        showError(exchangeError, "The token endpoint refused the exchange.", answer, hintFor(answer));
        exchangeError.focus();
      });
  });

  function hintFor(answer) {
    var error = answer.body && answer.body.error;
    if (error === "invalid_client") {
      return "Check the client secret (the app's page can rotate it) and exchange again: the code is still unused.";
    }
    if (error === "invalid_grant") {
      return "This code cannot be used any more (used, expired or issued for another verifier): start again with the button.";
    }
    return "";
  }

  // -- 3. the token response ---------------------------------------------------------------------
  function showTokens(body) {
    accessToken = body.access_token;
    tokenBox.textContent = "";
    tokenBox.appendChild(element("h3", "", "Token response"));
    var rows = [
      ["access_token", body.access_token, "access token"],
      ["token_type", body.token_type],
      ["expires_in", expiry(body.expires_in)],
      ["scope", body.scope],
    ];
    if (body.refresh_token) {
      rows.push(["refresh_token", body.refresh_token, "refresh token"]);
    }
    if (body.id_token) {
      rows.push(["id_token", body.id_token, "ID token"]);
    }
    tokenBox.appendChild(valueList(rows));
    if (body.id_token) {
      showIdToken(body.id_token);
    }
    var raw = element("details", "playground-raw");
    raw.appendChild(element("summary", "", "Raw response"));
    raw.appendChild(jsonBlock(body, "Raw token response"));
    tokenBox.appendChild(raw);
    tokenBox.hidden = false;
    userinfoStep.hidden = false;
  }

  function expiry(seconds) {
    if (typeof seconds !== "number") {
      return seconds === undefined ? "" : String(seconds);
    }
    var until = new Date(Date.now() + seconds * 1000);
    return seconds + " (until " + until.toLocaleTimeString() + ")";
  }

  function showIdToken(idToken) {
    var header;
    var claims;
    try {
      header = decodeJwtPart(idToken, 0);
      claims = decodeJwtPart(idToken, 1);
    } catch (problem) {
      tokenBox.appendChild(element("p", "message message-error", "The id_token is not a readable JWT."));
      return;
    }
    tokenBox.appendChild(element("h4", "", "ID token header"));
    tokenBox.appendChild(jsonBlock(header, "ID token header"));
    tokenBox.appendChild(element("h4", "", "ID token claims"));
    tokenBox.appendChild(jsonBlock(claims, "ID token claims"));
    var nonceOk = window.DoormanSignin && window.DoormanSignin.verifyNonce(idToken, nonce);
    tokenBox.appendChild(
      element(
        "p",
        nonceOk ? "message message-success" : "message message-error",
        nonceOk
          ? "The nonce claim is the one this flow sent."
          : "The nonce claim is not the one this flow sent: do not trust this ID token."
      )
    );
    // The key id is one long word: it may break anywhere (a phone is narrower than it).
    var note = element("p", "field-help", "Decoded only: your backend must verify the signature ");
    note.append("against the issuer's JWKS (key ");
    note.appendChild(element("code", "opaque-id", header.kid || "?"));
    note.append(", " + (header.alg || "?") + ").");
    tokenBox.appendChild(note);
  }

  // -- 4. userinfo (OIDC Core §5.3) --------------------------------------------------------------
  userinfoButton.addEventListener("click", function () {
    if (!accessToken) {
      return;
    }
    userinfoButton.disabled = true;
    userinfoButton.setAttribute("aria-busy", "true");
    userinfoBox.textContent = "";
    fetch(userinfoEndpoint, {
      credentials: "omit",
      cache: "no-store",
      headers: { Accept: "application/json", Authorization: "Bearer " + accessToken },
    })
      .then(readAnswer, networkFailure)
      .then(function (answer) {
        userinfoButton.removeAttribute("aria-busy");
        userinfoButton.disabled = false;
        if (answer.ok && answer.body) {
          userinfoBox.className = "";
          userinfoBox.appendChild(jsonBlock(answer.body, "Userinfo response"));
          return;
        }
        userinfoBox.className = "message message-error";
        showError(userinfoBox, "The userinfo endpoint refused the access token.", answer);
      });
  });
})();

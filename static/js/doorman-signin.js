/*
 * <doorman-signin>: a "Sign in with Doorman" button for any web page.
 *
 *   <script src="https://doorman.example/static/js/doorman-signin.js"></script>
 *   <doorman-signin client-id="…" redirect-uri="https://app.example/callback"
 *                   scopes="openid profile"></doorman-signin>
 *
 * Clicking the button starts an OAuth 2.0 authorization-code flow with PKCE (RFC 6749 §4.1,
 * RFC 7636) and OpenID Connect: a code_verifier with its S256 challenge, a random state and a
 * nonce are made with WebCrypto, kept in sessionStorage under the state, and the browser goes
 * to the authorization endpoint read from the issuer's discovery document.
 *
 * On the page at redirect-uri (the same element present there, or a call to
 * DoormanSignin.handleRedirect()) the response is checked: the state must be one this browser
 * tab stored (it is then forgotten: single use) and `iss` must be the issuer (RFC 9207). The
 * element then dispatches
 *   "doorman-signin"        detail {code, codeVerifier, nonce, redirectUri, clientId, issuer}
 *   "doorman-signin-error"  detail {error, errorDescription}
 * (bubbling, composed). The app's backend exchanges the code at the token endpoint with the
 * verifier and its client secret, which never reaches the browser. verifyNonce(idToken) checks
 * that the id_token's nonce is the one this flow sent; it does NOT check the signature: the
 * backend must verify the id_token against the issuer's JWKS.
 *
 * Plain JavaScript, no dependency, nothing loaded from anywhere but the issuer's discovery.
 */
(function () {
  "use strict";

  var TAG = "doorman-signin";
  var STORAGE_PREFIX = "doorman-signin:";
  var ISSUER_PATH = "/accounts/api/v2/oauth2";
  // A stored flow older than this is treated as unknown: nobody sits on a consent screen so long.
  var FLOW_MAX_AGE_MS = 60 * 60 * 1000;
  var RESPONSE_PARAMS = ["code", "state", "iss", "error", "error_description", "error_uri"];

  // Where this script came from: the default issuer lives on the same origin.
  var scriptElement =
    document.currentScript || document.querySelector('script[src*="doorman-signin"]');
  var scriptOrigin = scriptElement ? new URL(scriptElement.src, location.href).origin : "";

  // -- helpers -----------------------------------------------------------------------------------
  function base64url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString(byteCount) {
    return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
  }

  function s256(verifier) {
    // RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
    return crypto.subtle
      .digest("SHA-256", new TextEncoder().encode(verifier))
      .then(function (digest) {
        return base64url(new Uint8Array(digest));
      });
  }

  function decodeJwtPayload(token) {
    var parts = typeof token === "string" ? token.split(".") : [];
    if (parts.length !== 3) {
      throw new Error("Not a JWT.");
    }
    var text = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    text += "===".slice((text.length + 3) % 4);
    var bytes = Uint8Array.from(atob(text), function (c) {
      return c.charCodeAt(0);
    });
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  function withoutQueryAndHash(url) {
    try {
      var parsed = new URL(url, location.href);
      return parsed.origin + parsed.pathname;
    } catch (problem) {
      return null; // not a URL: never the current page
    }
  }

  function SigninError(error, description) {
    this.error = error;
    this.errorDescription = description;
  }

  // -- discovery ---------------------------------------------------------------------------------
  var discoveryCache = {};

  function discover(issuer) {
    if (!discoveryCache[issuer]) {
      discoveryCache[issuer] = fetch(issuer + "/.well-known/openid-configuration", {
        credentials: "omit",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (metadata) {
          // OIDC Discovery §4.3: the document must name the issuer it was fetched from.
          if (metadata.issuer !== issuer) {
            throw new Error("it names another issuer: " + metadata.issuer);
          }
          var endpoint = new URL(metadata.authorization_endpoint);
          if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") {
            throw new Error("Unexpected authorization endpoint.");
          }
          return metadata;
        })
        .catch(function (problem) {
          delete discoveryCache[issuer];
          throw new SigninError(
            "discovery_failed",
            "Could not read the discovery document of " + issuer + " (" + problem.message + ")."
          );
        });
    }
    return discoveryCache[issuer];
  }

  // -- the flow's memory: sessionStorage, one entry per state -------------------------------------
  function storeFlow(state, flow) {
    pruneFlows();
    sessionStorage.setItem(STORAGE_PREFIX + state, JSON.stringify(flow));
  }

  function takeFlow(state) {
    // Single use: whatever happens next, this state is never accepted again.
    var key = STORAGE_PREFIX + state;
    var raw = state ? sessionStorage.getItem(key) : null;
    if (state) {
      sessionStorage.removeItem(key);
    }
    if (!raw) {
      return null;
    }
    try {
      var flow = JSON.parse(raw);
      return Date.now() - flow.createdAt <= FLOW_MAX_AGE_MS ? flow : null;
    } catch (problem) {
      return null;
    }
  }

  function pruneFlows() {
    for (var i = sessionStorage.length - 1; i >= 0; i--) {
      var key = sessionStorage.key(i);
      if (key && key.indexOf(STORAGE_PREFIX) === 0) {
        try {
          if (Date.now() - JSON.parse(sessionStorage.getItem(key)).createdAt > FLOW_MAX_AGE_MS) {
            sessionStorage.removeItem(key);
          }
        } catch (problem) {
          sessionStorage.removeItem(key);
        }
      }
    }
  }

  // -- starting a flow ----------------------------------------------------------------------------
  function startSignin(options) {
    if (!options.clientId || !options.redirectUri) {
      return Promise.reject(
        new SigninError("invalid_request", "client-id and redirect-uri are required.")
      );
    }
    if (!window.crypto || !crypto.subtle || !crypto.getRandomValues) {
      return Promise.reject(
        new SigninError("insecure_context", "Sign-in needs https (or localhost) for WebCrypto.")
      );
    }
    var issuer = (options.issuer || scriptOrigin + ISSUER_PATH).replace(/\/+$/, "");
    var verifier = randomString(48); // 64 characters, RFC 7636 §4.1 allows 43–128
    var state = randomString(32);
    var nonce = randomString(32);
    return Promise.all([discover(issuer), s256(verifier)]).then(function (results) {
      var metadata = results[0];
      storeFlow(state, {
        codeVerifier: verifier,
        nonce: nonce,
        redirectUri: options.redirectUri,
        clientId: options.clientId,
        issuer: metadata.issuer,
        issRequired: metadata.authorization_response_iss_parameter_supported === true,
        createdAt: Date.now(),
      });
      var url = new URL(metadata.authorization_endpoint);
      var params = {
        response_type: "code",
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        scope: options.scopes,
        state: state,
        nonce: nonce,
        code_challenge: results[1],
        code_challenge_method: "S256",
      };
      Object.keys(params).forEach(function (name) {
        if (params[name]) {
          url.searchParams.set(name, params[name]);
        }
      });
      location.assign(url.toString());
      return url.toString();
    });
  }

  // -- the redirect back --------------------------------------------------------------------------
  function responseParams() {
    var query = new URLSearchParams(location.search);
    if (!query.has("code") && !query.has("error")) {
      return null;
    }
    var params = {};
    RESPONSE_PARAMS.forEach(function (name) {
      params[name] = query.get(name);
    });
    return params;
  }

  function checkResponse(params) {
    // RFC 6749 §10.12: the state ties the response to a flow this tab started.
    var flow = takeFlow(params.state);
    if (!flow) {
      return {
        ok: false,
        detail: new SigninError(
          "invalid_state",
          "The response does not belong to a sign-in started here (unknown, used or expired state)."
        ),
      };
    }
    // RFC 9207 §2.4: the response must come from the issuer the flow went to.
    if ((params.iss || flow.issRequired) && params.iss !== flow.issuer) {
      return {
        ok: false,
        detail: new SigninError("invalid_issuer", "The response came from another issuer."),
      };
    }
    if (params.error) {
      return {
        ok: false,
        detail: new SigninError(params.error, params.error_description || ""),
      };
    }
    lastNonce = flow.nonce;
    return {
      ok: true,
      detail: {
        code: params.code,
        codeVerifier: flow.codeVerifier,
        nonce: flow.nonce,
        redirectUri: flow.redirectUri,
        clientId: flow.clientId,
        issuer: flow.issuer,
      },
    };
  }

  function forgetResponseInUrl() {
    // Keep the code out of the history and make a reload harmless.
    var url = new URL(location.href);
    RESPONSE_PARAMS.forEach(function (name) {
      url.searchParams.delete(name);
    });
    history.replaceState(history.state, "", url.toString());
  }

  var lastNonce = null;
  var redirectOutcome; // the outcome of this page load's response, computed once
  var redirectDispatched = false;

  function redirectResult() {
    if (redirectOutcome === undefined) {
      var params = responseParams();
      redirectOutcome = null;
      if (params) {
        try {
          redirectOutcome = checkResponse(params);
        } catch (problem) {
          // sessionStorage refused (storage disabled): nothing can be trusted.
          redirectOutcome = {
            ok: false,
            detail: new SigninError("invalid_state", "The sign-in state could not be read."),
          };
        }
        forgetResponseInUrl();
      }
    }
    return redirectOutcome;
  }

  function dispatchOutcome(target, outcome) {
    if (!outcome || redirectDispatched) {
      return;
    }
    redirectDispatched = true;
    var detail = outcome.ok
      ? outcome.detail
      : { error: outcome.detail.error, errorDescription: outcome.detail.errorDescription };
    target.dispatchEvent(
      new CustomEvent(outcome.ok ? TAG : TAG + "-error", {
        detail: detail,
        bubbles: true,
        composed: true,
      })
    );
  }

  function afterDomReady(callback) {
    // Listeners written after the element (or the script) exist by DOMContentLoaded.
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback, { once: true });
    } else {
      setTimeout(callback, 0);
    }
  }

  // -- the element --------------------------------------------------------------------------------
  var STYLES =
    ":host{display:inline-block;" +
    "font:500 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ":host([hidden]){display:none}" +
    "button{display:inline-flex;align-items:center;gap:.6em;min-height:44px;" +
    "padding:.55em 1.1em .55em .6em;border:1px solid #0b5cab;border-radius:8px;" +
    "background:#0b5cab;color:#fff;font:inherit;cursor:pointer}" +
    "button:hover{background:#084482;border-color:#084482}" +
    "button:focus-visible{outline:3px solid rgba(11,92,171,.45);outline-offset:2px}" +
    "button[disabled]{opacity:.6;cursor:not-allowed}" +
    "button[aria-busy=true]{cursor:progress}" +
    ".mark{display:inline-grid;place-items:center;width:1.7em;height:1.7em;border-radius:6px;" +
    "background:#fff;color:#0b5cab;font-weight:700}" +
    "@media (forced-colors:active){button{border:1px solid ButtonText}}";

  function styleInto(root) {
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      try {
        // Constructed sheets also work on pages whose CSP refuses inline styles.
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLES);
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (problem) {
        /* fall back to a <style> element */
      }
    }
    var style = document.createElement("style");
    style.textContent = STYLES;
    root.appendChild(style);
  }

  // A page restored from the back/forward cache shows the buttons as they were left: busy.
  var liveElements = new Set();
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      liveElements.forEach(function (element) {
        element._ready();
      });
    }
  });

  class DoormanSignin extends HTMLElement {
    static get observedAttributes() {
      return ["client-id", "redirect-uri", "scopes", "label", "issuer"];
    }

    constructor() {
      super();
      var root = this.attachShadow({ mode: "open" });
      styleInto(root);
      this._button = document.createElement("button");
      this._button.type = "button";
      this._button.setAttribute("part", "button");
      var mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = "D";
      this._label = document.createElement("span");
      this._label.setAttribute("part", "label");
      this._button.append(mark, this._label);
      root.appendChild(this._button);
      this._button.addEventListener("click", this.signIn.bind(this));
    }

    connectedCallback() {
      liveElements.add(this);
      this._render();
      var element = this;
      afterDomReady(function () {
        if (element.isConnected && element._isRedirectPage()) {
          dispatchOutcome(element, redirectResult());
        }
      });
    }

    disconnectedCallback() {
      liveElements.delete(this);
    }

    attributeChangedCallback() {
      this._render();
    }

    get clientId() {
      return this.getAttribute("client-id") || "";
    }

    get redirectUri() {
      return this.getAttribute("redirect-uri") || "";
    }

    get scopes() {
      return (this.getAttribute("scopes") || "").trim().split(/\s+/).filter(Boolean).join(" ");
    }

    get issuer() {
      return this.getAttribute("issuer") || scriptOrigin + ISSUER_PATH;
    }

    /** Start the flow (what a click does). Resolves with the authorization URL. */
    signIn() {
      var element = this;
      var button = this._button;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      return startSignin({
        clientId: this.clientId,
        redirectUri: this.redirectUri,
        scopes: this.scopes,
        issuer: this.getAttribute("issuer"),
      }).catch(function (problem) {
        element._ready();
        var detail =
          problem instanceof SigninError
            ? { error: problem.error, errorDescription: problem.errorDescription }
            : { error: "signin_failed", errorDescription: String(problem && problem.message) };
        element.dispatchEvent(
          new CustomEvent(TAG + "-error", { detail: detail, bubbles: true, composed: true })
        );
      });
    }

    /** Whether this id_token carries the nonce of the flow just completed. */
    verifyNonce(idToken, expectedNonce) {
      return DoormanSignin.verifyNonce(idToken, expectedNonce);
    }

    _isRedirectPage() {
      return (
        this.redirectUri !== "" &&
        withoutQueryAndHash(this.redirectUri) === withoutQueryAndHash(location.href) &&
        withoutQueryAndHash(location.href) !== null
      );
    }

    _ready() {
      this._button.removeAttribute("aria-busy");
      this._render();
    }

    _render() {
      this._label.textContent = this.getAttribute("label") || "Sign in with Doorman";
      var ready = this.clientId !== "" && this.redirectUri !== "";
      if (!this._button.hasAttribute("aria-busy")) {
        this._button.disabled = !ready;
      }
      this._button.title = ready ? "" : "Set client-id and redirect-uri to enable sign-in.";
    }

    /**
     * Check the response at the redirect URI without an element on the page: dispatches the
     * event on `target` (default: document) and returns its detail, or null when the URL carries
     * no authorization response.
     */
    static handleRedirect(target) {
      var outcome = redirectResult();
      dispatchOutcome(target || document, outcome);
      if (!outcome) {
        return null;
      }
      return outcome.ok
        ? outcome.detail
        : { error: outcome.detail.error, errorDescription: outcome.detail.errorDescription };
    }

    /**
     * Whether the id_token's `nonce` claim equals the nonce of the flow completed on this page
     * (or `expectedNonce`). Decodes the payload only: the backend verifies the signature.
     */
    static verifyNonce(idToken, expectedNonce) {
      var expected = expectedNonce || lastNonce;
      if (!expected) {
        return false;
      }
      try {
        return decodeJwtPayload(idToken).nonce === expected;
      } catch (problem) {
        return false;
      }
    }

    /** Start a flow without an element: {clientId, redirectUri, scopes, issuer?}. */
    static signIn(options) {
      return startSignin({
        clientId: options.clientId,
        redirectUri: options.redirectUri,
        scopes: (options.scopes || "").trim(),
        issuer: options.issuer,
      });
    }
  }

  if (!customElements.get(TAG)) {
    customElements.define(TAG, DoormanSignin);
  }
  window.DoormanSignin = customElements.get(TAG);
})();

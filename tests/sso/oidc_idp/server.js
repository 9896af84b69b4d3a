// A company's OpenID Connect identity provider, for Doorman's SSO tests: oidc-provider (npm,
// pinned in package.json) with a real username/password login page in front of it.
//
// Usage: node server.js <config.json | inline JSON>   (or the same JSON in $OIDC_IDP_CONFIG)
//   {
//     "port": 4010,                        listens on 127.0.0.1:<port>
//     "issuer": "http://127.0.0.1:4010",   optional; this is the default
//     "admin_token": "…",                  optional; Bearer token for POST /reg (RFC 7591
//                                          dynamic registration) and POST /_test/accounts;
//                                          without it both are closed
//     "clients": [ oidc-provider client metadata: client_id, client_secret, redirect_uris,
//                  token_endpoint_auth_method (client_secret_basic by default), … ],
//     "accounts": [ { "sub", "password", "email", "email_verified", "given_name",
//                     "family_name", "name", "preferred_username", "groups" } ]
//   }
//
// Pages (labels are what a browser test clicks):
//   GET  /interaction/<uid>        login prompt: form with inputs labelled "Username" and
//                                  "Password", buttons "Sign in" and "Cancel" (the latter
//                                  returns error=access_denied to the client); the username is
//                                  an account's preferred_username, email or sub.
//                                  consent prompt: granted at once (every requested scope and
//                                  claim), as a company IdP does for its own apps.
//   POST /interaction/<uid>/login  checks the password; a wrong one shows the form again with
//                                  status 401 and "Invalid username or password."
//   POST /interaction/<uid>/abort  the "Cancel" button
//
// Claims by scope: openid → sub, amr (["pwd"]); email → email, email_verified; profile → name,
// given_name, family_name, preferred_username, groups; groups → groups. They are in the ID token
// as well as at userinfo (conformIdTokenClaims: false), as many company IdPs do.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

function readConfig() {
  const source = process.argv[2] ?? process.env.OIDC_IDP_CONFIG;
  if (!source) {
    throw new Error('usage: node server.js <config.json | JSON> (or $OIDC_IDP_CONFIG)');
  }
  return JSON.parse(source.trimStart().startsWith('{') ? source : fs.readFileSync(source, 'utf8'));
}

const config = readConfig();
const port = Number.parseInt(String(config.port), 10);
const issuer = config.issuer ?? `http://127.0.0.1:${port}`;
const adminToken = config.admin_token || undefined;

const PROFILE_CLAIMS = ['name', 'given_name', 'family_name', 'preferred_username', 'groups'];
const EMAIL_CLAIMS = ['email', 'email_verified'];

// sub -> account; an account added later with the same sub replaces the earlier one.
const accounts = new Map();
function accountAdd(account) {
  if (typeof account?.sub !== 'string' || !account.sub || typeof account.password !== 'string') {
    throw new TypeError('an account needs a string sub and password');
  }
  accounts.set(account.sub, account);
}
(config.accounts ?? []).forEach(accountAdd);

function accountByUsername(username) {
  const wanted = username.trim();
  const lowered = wanted.toLowerCase();
  for (const account of accounts.values()) {
    if (
      account.sub === wanted
      || account.preferred_username === wanted
      || (account.email && account.email.toLowerCase() === lowered)
    ) {
      return account;
    }
  }
  return undefined;
}

function passwordMatches(account, password) {
  const given = crypto.createHash('sha256').update(password).digest();
  const stored = crypto.createHash('sha256').update(account.password).digest();
  return crypto.timingSafeEqual(given, stored);
}

// A fresh RS256 key each run rather than oidc-provider's published development keys.
const signingKey = {
  ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  use: 'sig',
  alg: 'RS256',
  kid: crypto.randomUUID(),
};

const staticClientIds = new Set((config.clients ?? []).map((client) => client.client_id));

const configuration = {
  clients: config.clients ?? [],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub', 'amr'], // amr: ['pwd'], from the login form
    email: EMAIL_CLAIMS,
    profile: PROFILE_CLAIMS,
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: account.sub,
      async claims() {
        const claims = { sub: account.sub };
        for (const name of [...EMAIL_CLAIMS, ...PROFILE_CLAIMS]) {
          if (account[name] !== undefined) claims[name] = account[name];
        }
        return claims;
      },
    };
  },
  features: {
    devInteractions: { enabled: false }, // the /interaction pages below replace them
    registration: {
      enabled: Boolean(adminToken),
      initialAccessToken: adminToken ?? false,
      // Tests choose the client's id and secret (the redirect URI depends on their server's
      // port); RFC 7591 lets the server pick them, and a test-only IdP may let the caller.
      idFactory(ctx) {
        const wanted = ctx.oidc.body?.client_id;
        if (typeof wanted === 'string' && wanted && !staticClientIds.has(wanted)) return wanted;
        return crypto.randomUUID();
      },
      secretFactory(ctx) {
        const wanted = ctx.oidc.body?.client_secret;
        if (typeof wanted === 'string' && wanted) return wanted;
        return crypto.randomBytes(32).toString('base64url');
      },
    },
    // userinfo and rpInitiatedLogout (end_session) are on by default
  },
  // PKCE: S256 is accepted whenever a client sends it and required only of public clients
  // (oidc-provider's default), so a confidential client may leave it out.
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendHtml(res, status, title, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`);
}

function loginPage(res, { uid, clientId, username = '', error, status = 200 }) {
  const alert = error ? `<p role="alert">${escapeHtml(error)}</p>\n` : '';
  sendHtml(res, status, 'Company sign-in', `<p>Sign in to continue to ${escapeHtml(clientId)}.</p>
${alert}<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<p><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required
 value="${escapeHtml(username)}"${username ? '' : ' autofocus'}></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
${username ? ' autofocus' : ''}></p>
<p><button type="submit">Sign in</button></p>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
<p><button type="submit">Cancel</button></p>
</form>`);
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// Grants what the authorization request asked for (oidc-provider's example does the same
// after its consent button).
async function grantConsent(req, res, details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function interactionShow(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return loginPage(res, {
      uid: details.uid,
      clientId: details.params.client_id,
      username: details.params.login_hint ?? '',
    });
  }
  if (details.prompt.name === 'consent') return grantConsent(req, res, details);
  return sendHtml(res, 400, 'Unsupported prompt', `<p>${escapeHtml(details.prompt.name)}</p>`);
}

async function interactionLogin(req, res) {
  const details = await provider.interactionDetails(req, res);
  const form = new URLSearchParams(await readBody(req));
  const username = form.get('username') ?? '';
  const account = accountByUsername(username);
  if (details.prompt.name !== 'login' || !account || !passwordMatches(account, form.get('password') ?? '')) {
    return loginPage(res, {
      uid: details.uid,
      clientId: details.params.client_id,
      username,
      error: 'Invalid username or password.',
      status: 401,
    });
  }
  return provider.interactionFinished(req, res, {
    login: { accountId: account.sub, amr: ['pwd'] },
  }, { mergeWithLastSubmission: false });
}

async function interactionAbort(req, res) {
  await readBody(req);
  return provider.interactionFinished(req, res, {
    error: 'access_denied',
    error_description: 'the user cancelled the sign-in',
  }, { mergeWithLastSubmission: false });
}

async function testAccountAdd(req, res) {
  const auth = req.headers.authorization ?? '';
  const given = crypto.createHash('sha256').update(auth).digest();
  const wanted = crypto.createHash('sha256').update(`Bearer ${adminToken}`).digest();
  if (!adminToken || !crypto.timingSafeEqual(given, wanted)) {
    res.statusCode = 401;
    return res.end();
  }
  accountAdd(JSON.parse(await readBody(req)));
  res.statusCode = 204;
  return res.end();
}

const ROUTES = [
  ['GET', /^\/interaction\/[^/?]+\/?(\?|$)/, interactionShow],
  ['POST', /^\/interaction\/[^/?]+\/login(\?|$)/, interactionLogin],
  ['POST', /^\/interaction\/[^/?]+\/abort(\?|$)/, interactionAbort],
  ['POST', /^\/_test\/accounts(\?|$)/, testAccountAdd],
];

const server = http.createServer((req, res) => {
  const route = ROUTES.find(([method, pattern]) => req.method === method && pattern.test(req.url));
  if (!route) {
    callback(req, res);
    return;
  }
  route[2](req, res).catch((err) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An expired or unknown interaction (SessionNotFound), a bad body: a plain 400.
    res.statusCode = err.statusCode ?? 400;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`${err.name}: ${err.error_description ?? err.message}\n`);
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}

// Drives a running `node server.js <port>` over plain HTTP and writes the
// harness fixtures JSON.  Usage: node fixtures.js <port> <out.json> [refresh-count]
import crypto from 'node:crypto';
import fs from 'node:fs';

const port = Number.parseInt(process.argv[2], 10);
const outPath = process.argv[3];
const REFRESH_COUNT = Number.parseInt(process.argv[4] ?? '128', 10);
if (!port || !outPath) {
  console.error('usage: node fixtures.js <port> <out.json> [refresh-count]');
  process.exit(2);
}

const BASE = `http://127.0.0.1:${port}`;
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const CC = { id: 'bench-cc', secret: 'bench-cc-secret' };
const WEB = { id: 'bench-web', secret: 'bench-web-secret' };
const basic = (c) => Buffer.from(`${c.id}:${c.secret}`).toString('base64');

// --- minimal cookie jar (name+path keyed, path-matched) ---------------------
const jar = new Map();
function storeCookies(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let path = '/';
    let expired = false;
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      const key = k.toLowerCase();
      if (key === 'path') path = v;
      if (key === 'max-age' && Number(v) <= 0) expired = true;
      if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
    }
    const k = `${name}\u0000${path}`;
    if (expired || value === '') jar.delete(k);
    else jar.set(k, { name, value, path });
  }
}
function cookieHeader(reqPath) {
  const out = [];
  for (const { name, value, path } of jar.values()) {
    if (reqPath === path || reqPath.startsWith(path.endsWith('/') ? path : `${path}/`)) {
      out.push(`${name}=${value}`);
    }
  }
  return out.join('; ');
}

async function get(url) {
  const u = new URL(url, BASE);
  const res = await fetch(u, {
    redirect: 'manual',
    headers: { cookie: cookieHeader(u.pathname) },
  });
  storeCookies(res);
  await res.arrayBuffer();
  return res;
}

async function post(path, client, body) {
  const res = await fetch(new URL(path, BASE), {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic(client)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(body).toString(),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`POST ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// --- PKCE (one fixed pair, reused by every flow and by the code fixture) ------
const codeVerifier = crypto.randomBytes(32).toString('base64url');
const codeChallenge = crypto.hash('sha256', codeVerifier, 'base64url');

function authorizePath(scope, extra = {}) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: WEB.id,
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state: 'x',
    ...extra,
  });
  return `/auth?${q.toString().replace(/\+/g, '%20')}`;
}

// Follows /auth -> /interaction/<uid> -> /auth/<uid> ... until the redirect_uri.
async function obtainCode(path) {
  let url = path;
  for (let hop = 0; hop < 10; hop += 1) {
    const res = await get(url);
    const loc = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !loc) {
      throw new Error(`GET ${url} -> ${res.status} (no redirect)`);
    }
    if (loc.startsWith(REDIRECT_URI)) {
      const params = new URL(loc).searchParams;
      if (!params.get('code')) throw new Error(`authorization error: ${loc}`);
      return params.get('code');
    }
    url = loc;
  }
  throw new Error('too many redirects');
}

// One full authorization-code flow; prompt=consent makes the interaction mint a
// fresh Grant each time (and is what lets offline_access through).
async function codeFlow(scope) {
  const code = await obtainCode(authorizePath(scope, { prompt: 'consent' }));
  return post('/token', WEB, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: codeVerifier,
  });
}

const cc = await post('/token', CC, { grant_type: 'client_credentials', scope: 'api' });
if (!cc.access_token) throw new Error('client_credentials issued no access_token');

const refresh = [];
for (let i = 0; i < REFRESH_COUNT; i += 1) {
  const t = await codeFlow('openid profile offline_access');
  if (!t.refresh_token) throw new Error(`no refresh_token: ${JSON.stringify(t)}`);
  refresh.push(t.refresh_token);
}
// Access tokens without offline_access "expire with the session" (default
// expiresWithSession) and die as soon as the session's grant for the client
// changes, i.e. at the next consent; offline_access ones do not.
const bearer = [];
for (let i = 0; i < 16; i += 1) bearer.push((await codeFlow('openid profile offline_access')).access_token);
const introspect = [];
for (let i = 0; i < 16; i += 1) introspect.push((await codeFlow('openid profile offline_access')).access_token);

// Last consent: a dedicated grant (openid profile offline_access) that the
// session's later prompt-less /auth requests reuse via loadExistingGrant.
await codeFlow('openid profile');
const fixtureAuthorize = authorizePath('openid profile');
const cookie = cookieHeader('/auth');

// Sanity: the code fixture works without any interaction.
{
  const res = await fetch(new URL(fixtureAuthorize, BASE), { redirect: 'manual', headers: { cookie } });
  const loc = res.headers.get('location') ?? '';
  if (!loc.startsWith(REDIRECT_URI) || !new URL(loc).searchParams.get('code')) {
    throw new Error(`code fixture does not auto-consent: ${res.status} ${loc}`);
  }
  await post('/token', WEB, {
    grant_type: 'authorization_code',
    code: new URL(loc).searchParams.get('code'),
    redirect_uri: REDIRECT_URI,
    code_verifier: codeVerifier,
  });
}

const fixtures = {
  base_url: BASE,
  cc: { path: '/token', basic: basic(CC), body: 'grant_type=client_credentials&scope=api' },
  bearer: { path: '/me', tokens: bearer },
  introspect: { path: '/token/introspection', basic: basic(WEB), tokens: introspect },
  refresh: { path: '/token', basic: basic(WEB), tokens: refresh },
  code: {
    authorize_path: fixtureAuthorize,
    cookie,
    token_path: '/token',
    basic: basic(WEB),
    redirect_uri: REDIRECT_URI,
    code_verifier: codeVerifier,
  },
};
fs.writeFileSync(outPath, `${JSON.stringify(fixtures, null, 2)}\n`);
console.log(`wrote ${outPath}: ${refresh.length} refresh, ${bearer.length} bearer, ${introspect.length} introspect tokens`);

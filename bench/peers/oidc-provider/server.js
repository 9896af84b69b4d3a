// oidc-provider peer for Doorman's benchmark harness.
// Usage: node server.js <port>   -> issuer http://127.0.0.1:<port>
// Everything not set here is oidc-provider's default (in-memory adapter,
// opaque access tokens, quick-start development signing keys, routes).
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '3000', 10);
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNT_ID = 'bench-user';
const PROFILE = {
  name: 'Bench User',
  given_name: 'Bench',
  family_name: 'User',
  preferred_username: 'bench-user',
  updated_at: 1700000000,
};
// What the one-step interaction grants (offline_access only sticks when the
// /auth request carries prompt=consent, as OIDC Core requires).
const GRANTED_SCOPE = 'openid profile offline_access';

const configuration = {
  clients: [
    {
      // (a) confidential client_credentials client
      client_id: 'bench-cc',
      client_secret: 'bench-cc-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
    },
    {
      // (b) confidential authorization_code + refresh_token client
      client_id: 'bench-web',
      client_secret: 'bench-web-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
    },
  ],
  // Default is ['openid', 'offline_access']; 'api' is a plain scope so the
  // client_credentials request can carry a scope (it is not required).
  scopes: ['openid', 'offline_access', 'api'],
  // Default only maps openid -> sub; add the standard profile claims.
  claims: {
    openid: ['sub'],
    profile: Object.keys(PROFILE),
  },
  async findAccount(ctx, id) {
    if (id !== ACCOUNT_ID) return undefined;
    return {
      accountId: ACCOUNT_ID,
      async claims() {
        return { sub: ACCOUNT_ID, ...PROFILE };
      },
    };
  },
  features: {
    devInteractions: { enabled: false }, // replaced by the /interaction handler below
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // userinfo is enabled by default
  },
  // Default only rotates for public clients or after 70% of the RT lifetime;
  // the benchmark wants rotation on every refresh.
  rotateRefreshToken: true,
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();

// Non-interactive login + consent: GET /interaction/<uid> logs bench-user in
// (login prompt) or grants GRANTED_SCOPE on a fresh Grant (consent prompt),
// then 303s back to the authorization endpoint's resume URL.
async function interaction(req, res) {
  const { prompt, session, params } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    return provider.interactionFinished(req, res, {
      login: { accountId: ACCOUNT_ID },
    }, { mergeWithLastSubmission: false });
  }
  const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  grant.addOIDCScope(GRANTED_SCOPE);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && /^\/interaction\/[^/?]+(\?|$)/.test(req.url)) {
    interaction(req, res).catch((err) => {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain');
      res.end(`interaction failed: ${err.message}\n`);
    });
    return;
  }
  callback(req, res);
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}

// node-oidc-provider (OpenID Certified, https://github.com/panva/node-oidc-provider),
// configured for this project's single-page app and appointments API, for
// tests/e2e_interop.rs: an OpenID provider this project did not write.
//
//   node tests/interop/provider.mjs <spa-origin> [token-lifetime-secs]
//
// It listens on a free port of 127.0.0.1, with its natural issuer `http://localhost:<port>`
// (no trailing slash), and prints one line
//
//   interop-provider listening {"issuer":"http://localhost:<port>","port":<port>}
//
// on stdout once it answers. It exits when stdin closes or on SIGTERM/SIGINT.
//
// Users: its built-in development login page accepts any password; the login becomes the
// `sub`. `alice@example.com` and `bob@example.com` have names and emails.
//
// One public client serves both of the app's flows: the implicit grant (`id_token token`)
// and the authorization code flow with PKCE (S256, which node-oidc-provider requires of
// public clients), refresh tokens rotated at each use, revoked at `revocation_endpoint`.
// Token endpoint errors and revocations are written to stderr, for a failing test to show.
// DPoP (RFC 9449) is on, with server nonces required of every proof.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const [spaArgument, lifetimeArgument] = process.argv.slice(2);
if (!spaArgument) {
  console.error('usage: node provider.mjs <spa-origin> [token-lifetime-secs]');
  process.exit(2);
}
const spa = new URL(spaArgument).origin;
const tokenLifetime = lifetimeArgument ? Number.parseInt(lifetimeArgument, 10) : 3600;
if (!(tokenLifetime > 0)) {
  console.error(`token lifetime must be a positive number of seconds, not ${lifetimeArgument}`);
  process.exit(2);
}

const CLIENT_ID = 'appointments-spa';
const AUDIENCE = 'appointments:api';
const API_SCOPES = 'read:appointments create:appointments';

const ACCOUNTS = {
  'alice@example.com': { name: 'Alice Example', email: 'alice@example.com' },
  'bob@example.com': { name: 'Bob Example', email: 'bob@example.com' },
};

// A fresh RS256 signing key at each start.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'interop-1' };

// node-oidc-provider asks a native client's user to confirm every authorization
// (`native_client_prompt`), so `prompt=none` (silent renewal) would always answer
// interaction_required. This client is native only to register http loopback redirect URIs;
// it is a browser app, and a web client (https redirect URIs) would not get this check.
const policy = interactionPolicy.base();
const consentChecks = policy.get('consent').checks;
if (!consentChecks.get('native_client_prompt')) throw new Error('native_client_prompt check not found');
consentChecks.remove('native_client_prompt');

const configuration = {
  interactions: { policy },
  clients: [
    {
      client_id: CLIENT_ID,
      client_name: 'Appointments (interop test)',
      // An implicit client with http loopback redirect URIs must be native: node-oidc-provider
      // refuses http and localhost redirect URIs for implicit web clients.
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['implicit', 'authorization_code', 'refresh_token'],
      response_types: ['id_token token', 'code'],
      redirect_uris: [`${spa}/callback`, `${spa}/silent-callback.html`],
      post_logout_redirect_uris: [`${spa}/`],
    },
  ],
  jwks: { keys: [signingKey] },
  responseTypes: ['id_token token', 'id_token', 'code', 'none'],
  // Auth0 names the API with `audience`; standard OAuth with `resource` (RFC 8707).
  extraParams: ['audience'],
  // node-oidc-provider drops `offline_access` from an authorization request without
  // `prompt=consent` (OpenID Connect Core §11), and by default issues a refresh token only for
  // a granted `offline_access`. The app asks for `offline_access` without `prompt=consent`
  // (which would show the consent page at every sign-in), so a refresh token is issued to
  // this public client whenever it has the `refresh_token` grant: node-oidc-provider's own
  // recipe for public clients doing the code flow (its docs, `issueRefreshToken`).
  async issueRefreshToken(_ctx, client, code) {
    return (
      client.grantTypeAllowed('refresh_token') &&
      (code.scopes.has('offline_access') || client.clientAuthMethod === 'none')
    );
  },
  // Such refresh tokens are not bound to the provider's browser session (by default a token
  // without a granted `offline_access` dies with it, and its grant with the session's
  // logout): only revocation, reuse or expiry ends them, as the app's logout expects.
  async expiresWithSession(ctx, token) {
    const code = token.kind === 'AuthorizationCode';
    if (code && ctx.oidc.client.grantTypeAllowed('refresh_token')) {
      return false;
    }
    return !token.scopes.has('offline_access');
  },
  // Rotation at every refresh: node-oidc-provider's default for a public client's tokens,
  // said here. A rotated-away refresh token used again revokes the whole grant.
  rotateRefreshToken: true,
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  async findAccount(_ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account, email_verified: true };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // RFC 7009 at `/token/revocation`; revoking a refresh token revokes its whole grant.
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // RFC 9449. Tokens are bound only when a request carries a proof (the app's `dpop: true`);
    // a proof must then carry a nonce the provider issued, so the app's `use_dpop_nonce`
    // retry is exercised against an implementation it did not write.
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => true,
    },
    resourceIndicators: {
      enabled: true,
      // At /auth: the `audience` parameter. At the token endpoint (`oneOf`, the code's or
      // refresh token's resources), the API's.
      defaultResource: (ctx, _client, oneOf) => {
        if (oneOf) return oneOf.includes(AUDIENCE) ? AUDIENCE : oneOf;
        return ctx.oidc.params.audience;
      },
      // The code exchange and every refresh (which send no `resource`) keep the granted
      // API, so their access tokens are JWTs for it too, not opaque tokens for /userinfo.
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== AUDIENCE) {
          throw new errors.InvalidTarget(`unknown audience ${resourceIndicator}`);
        }
        return {
          scope: API_SCOPES,
          audience: AUDIENCE,
          accessTokenTTL: tokenLifetime,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: {
    IdToken: tokenLifetime,
    AccessToken: tokenLifetime,
  },
  // The app calls discovery, the JWKS and /userinfo from its own origin, and the token
  // and revocation endpoints (CORS-safelisted form POSTs, no preflight): node-oidc-provider
  // checks this for the client the request names (`client_id`), and refuses otherwise.
  clientBasedCORS: (_ctx, origin, client) => origin === spa && client.clientId === CLIENT_ID,
  cookies: { keys: ['interop-test-cookie-key'] },
};

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, configuration);
  const errorEvents = [
    'authorization.error',
    'grant.error',
    'revocation.error',
    'end_session.error',
    'server_error',
  ];
  for (const event of errorEvents) {
    provider.on(event, (_ctx, error) => {
      const detail = error.error_detail ? ` (${error.error_detail})` : '';
      console.error(`${event}: ${error.error_description ?? error.message}${detail}`);
    });
  }
  provider.on('grant.success', (ctx) => {
    console.error(`grant.success: ${ctx.oidc.params.grant_type}`);
  });
  provider.on('grant.revoked', (_ctx, grantId) => console.error(`grant.revoked: ${grantId}`));
  server.on('request', provider.callback());
  console.log(`interop-provider listening ${JSON.stringify({ issuer, port })}`);
});

function stop() {
  server.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

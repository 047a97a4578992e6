// A real OAuth 2.1 / OpenID authorization server (oidc-provider) on loopback, for the end-to-end
// tests: open dynamic client registration, authorization code + PKCE (S256), and RFC 9068 JWT
// access tokens (`typ: at+jwt`, RS256) whose `aud` is the RFC 8707 resource the client asked for.
// A test user is logged in and consents to whatever is asked, with no browser: `e2e-user`
// (`$OIDC_TEST_USER`), or the account an authorization request names in `login_hint`, so one
// run can hold tokens of two subjects.
//
//   node oidc.mjs [--port N] [--state-dir DIR] [--rotate | --fresh-key] [--scopes-from FILE]
//
// The scopes it offers for a resource are those of a scopegate server's Keycloak export
// (`quickstart --export keycloak`, FILE): one client scope per scope, included in the token's
// `scope`. Without --scopes-from: $OIDC_RESOURCE_SCOPES, else the notes example's three.
//
// Prints `ISSUER http://127.0.0.1:PORT` on stdout once it accepts connections; logs go to
// stderr; exits on SIGTERM / SIGINT (or when stdin closes, if started with --exit-on-stdin-close).
//
// The signing key lives in DIR/jwks.json (DIR: --state-dir, else $OIDC_STATE_DIR, else a new
// temporary directory), so a restart with the same DIR and --port serves the same key. `--rotate`
// puts a new key first (used for signing) and keeps the old ones published; `--fresh-key`
// replaces them all: both let a test watch a resource server cope with key rotation.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

/** The account an interaction logs in when the request names none (`login_hint`). */
const TEST_USER = process.env.OIDC_TEST_USER ?? 'e2e-user';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT ?? '0' },
    'state-dir': { type: 'string', default: process.env.OIDC_STATE_DIR },
    rotate: { type: 'boolean', default: false },
    'fresh-key': { type: 'boolean', default: false },
    'exit-on-stdin-close': { type: 'boolean', default: false },
    'scopes-from': { type: 'string' },
  },
});

const log = (...parts) => console.error('[oidc]', ...parts);

/**
 * The scopes of a Keycloak export: the client scopes whose name goes into the token's `scope`
 * and that carry the audience mapper. Anything else is a broken export: stop, saying why.
 */
function scopesFromKeycloakExport(file) {
  const realm = JSON.parse(readFileSync(file, 'utf8'));
  const scopes = (realm.clientScopes ?? [])
    .filter((scope) => scope.protocol === 'openid-connect')
    .filter((scope) => scope.attributes?.['include.in.token.scope'] === 'true')
    .filter((scope) => (scope.protocolMappers ?? [])
      .some((m) => m.protocolMapper === 'oidc-audience-mapper' && m.config?.['included.custom.audience']))
    .map((scope) => scope.name);
  if (scopes.length === 0) {
    throw new Error(`${file}: no client scope included in the token scope with an audience mapper`);
  }
  const optional = realm.defaultOptionalClientScopes ?? [];
  for (const scope of scopes) {
    if (!optional.includes(scope)) throw new Error(`${file}: ${scope} is not a default optional client scope`);
  }
  return scopes;
}

/** The scopes offered for every resource (the scopegate server under test). */
const RESOURCE_SCOPES = args['scopes-from']
  ? scopesFromKeycloakExport(args['scopes-from'])
  : (process.env.OIDC_RESOURCE_SCOPES ?? 'notes:read notes:write notes:admin').split(/\s+/).filter(Boolean);
log(`resource scopes: ${RESOURCE_SCOPES.join(' ')}${args['scopes-from'] ? ` (from ${args['scopes-from']})` : ''}`);

// ---- signing keys, kept in a file -------------------------------------------------------------

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function loadKeys(dir) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'jwks.json');
  let keys = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).keys : [];
  if (keys.length === 0 || args['fresh-key']) {
    keys = [newSigningKey()];
  } else if (args.rotate) {
    keys = [newSigningKey(), ...keys];
  }
  writeFileSync(file, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  log(`signing key ${keys[0].kid} (${keys.length} published) in ${file}`);
  return keys;
}

const stateDir = args['state-dir'] || mkdtempSync(join(tmpdir(), 'scopegate-oidc-'));
const keys = loadKeys(stateDir);

// ---- the server ----------------------------------------------------------------------------------

// Bind first: with port 0 the issuer URL needs the port the system picked.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const configuration = {
  jwks: { keys },
  // Unsigned-cookie warnings otherwise; the value only has to be stable for one run.
  cookies: { keys: [randomUUID()] },
  scopes: ['openid', 'offline_access', ...RESOURCE_SCOPES],
  claims: { openid: ['sub'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 accepts
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true }, // open: no initial access token
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        let url;
        try {
          url = new URL(resourceIndicator);
        } catch {
          throw new errors.InvalidTarget('resource must be an absolute URL');
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          throw new errors.InvalidTarget('resource must be an http(s) URL');
        }
        return {
          scope: RESOURCE_SCOPES.join(' '),
          audience: resourceIndicator,
          accessTokenTTL: 10 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 10 * 60,
    AuthorizationCode: 60,
    ClientCredentials: 10 * 60,
    Grant: 60 * 60,
    IdToken: 10 * 60,
    Interaction: 10 * 60,
    RefreshToken: 60 * 60,
    Session: 60 * 60,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
// The tests talk plain HTTP on loopback: no proxy headers to trust, no TLS.
provider.proxy = false;

// Dynamic registration: the TS SDK registers with the scope of the first 401 challenge, and
// oidc-provider would then refuse every later step-up with `invalid_scope`. Strip it, so the
// client may ask for any scope the server knows.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/reg' && ctx.is('application/json')) {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    if (body && typeof body === 'object' && 'scope' in body) {
      log(`registration: dropped scope ${JSON.stringify(body.scope)}`);
      delete body.scope;
    }
    // oidc-provider reads an already-consumed body from here (and warns once about it).
    ctx.request.body = body ?? Buffer.concat(chunks).toString('utf8');
  }
  await next();
});

// Headless interactions: log the test user in, then grant everything that was asked.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: params.login_hint || TEST_USER } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unexpected prompt ${prompt.name}` };
  }
  log(`interaction ${match[1]}: ${prompt.name} (${prompt.reasons.join(', ')}) for ${params.client_id}, scope "${params.scope ?? ''}", resource ${params.resource ?? '-'}`);
  ctx.respond = false; // interactionFinished writes the 303 itself
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

for (const event of ['grant.error', 'authorization.error', 'registration_create.error', 'server_error']) {
  provider.on(event, (_ctx, error) => log(`${event}: ${error.name}: ${error.message} ${error.error_description ?? ''}`));
}
provider.on('access_token.issued', (token) => log(`access token for ${token.aud ?? token.resourceServer?.audience} scope "${token.scope}"`));
provider.on('access_token.saved', (token) => log(`access token saved: scope "${token.scope}"`));

server.on('request', provider.callback());

function shutdown(signal) {
  log(`${signal}: stopping`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (args['exit-on-stdin-close']) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.resume();
}

log(`state in ${stateDir}`);
console.log(`ISSUER ${issuer}`);

// The OAuth pieces the end-to-end clients share: an `OAuthClientProvider` for the TypeScript MCP
// SDK that runs the authorization code flow with no browser, and the headless user agent it
// uses on the authorization server (redirects and cookies, no login page: oidc.mjs logs its test
// user in and grants what was asked).
//
// The provider reports what happens through a `step(name, details)` callback and makes every
// request with the `fetch` it is given, so each script logs and records in its own way.

import { createHash } from 'node:crypto';

import { CheckFailed, check } from './script.mjs';

export { CheckFailed, check };

/** Whether two space-separated scope lists hold the same scopes. */
export const sameScopes = (a, b) =>
  [...new Set(a.split(/\s+/).filter(Boolean))].sort().join(' ') ===
  [...new Set(b.split(/\s+/).filter(Boolean))].sort().join(' ');

/** The claims of a JWT, unverified (for the report only: the server verifies). */
export function jwtParts(token) {
  try {
    const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
    return { header, payload };
  } catch {
    return undefined;
  }
}

/**
 * A short name for an access token, to tell in a summary which token a request carried without
 * printing the token: the first 16 hex digits of its SHA-256.
 */
export function tokenFingerprint(token) {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** A cookie jar just good enough for one authorization server on loopback. */
export class CookieJar {
  #cookies = new Map(); // "name;path" -> { name, value, path }

  store(response, url) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        const k = key.toLowerCase();
        if (k === 'path' && val.startsWith('/')) path = val;
        if (k === 'max-age' && Number(val) <= 0) expired = true;
        if (k === 'expires' && Date.parse(val) < Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
    void url;
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

/**
 * Plays the user's browser: follows the authorization server's redirects (login, consent, …)
 * until one goes to the redirect URI, and returns that URL's query.
 */
export async function authorizeHeadless(authorizationUrl, redirectUri, { fetch, jar }) {
  let url = authorizationUrl.toString();
  for (let hop = 0; hop < 20; hop++) {
    const cookie = jar.header(url);
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    jar.store(response, url);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      const body = (await response.text().catch(() => '')).slice(0, 500);
      throw new CheckFailed(`authorization stopped at ${url}: HTTP ${response.status}, no redirect: ${body}`);
    }
    await response.body?.cancel();
    const next = new URL(location, url).toString();
    if (next.startsWith(redirectUri)) {
      return new URL(next).searchParams;
    }
    url = next;
  }
  throw new CheckFailed('authorization did not reach the redirect URI in 20 redirects');
}

/**
 * An `OAuthClientProvider` (SDK 1.32, and SDK v2) that registers dynamically and authorizes
 * headless: `redirectToAuthorization` follows the authorization server to the redirect URI and
 * keeps the response for the script to hand to `transport.finishAuth`: `takeCode()` for SDK
 * 1.32, `takeResponse()` (the whole query, whose `iss` SDK v2 checks) for SDK v2.
 *
 * With `declineAuthorization` set, it records the request and goes no further, as a user who
 * refuses a step-up: the SDK then throws `UnauthorizedError`.
 */
export class HeadlessOAuthProvider {
  #clientInformation;
  #tokens;
  #codeVerifier;
  #discovery;
  #fetch;
  #step;
  #jar = new CookieJar();
  /** Authorization responses (queries with a code) not yet exchanged. */
  pendingResponses = [];
  /** Every authorization request: its scope and resource. */
  authorizations = [];
  /** When true, authorization requests are recorded, not followed. */
  declineAuthorization = false;

  /**
   * `fetch` makes the authorization server requests; `step(name, details)` hears about the
   * registration, each token and each authorization request. `grantTypes` are registered
   * (default: the code grant alone, which SDK 1.32 needs; SDK v2 steps up with a refresh token
   * too).
   */
  constructor(redirectUri, { fetch, step, grantTypes = ['authorization_code'] }) {
    this.redirectUri = redirectUri;
    this.grantTypes = grantTypes;
    this.#fetch = fetch;
    this.#step = step;
  }

  get redirectUrl() {
    return this.redirectUri;
  }

  get clientMetadata() {
    return {
      client_name: 'scopegate e2e (TypeScript SDK)',
      redirect_uris: [this.redirectUri],
      // By default no refresh_token: with a refresh token, SDK 1.32 answers a 403 by refreshing
      // (which cannot add scopes) instead of asking for the new ones.
      grant_types: this.grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    return crypto.randomUUID();
  }

  clientInformation() {
    return this.#clientInformation;
  }

  saveClientInformation(info) {
    this.#step('registered', { client_id: info.client_id, registered_scope: info.scope ?? null });
    this.#clientInformation = info;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    const jwt = jwtParts(tokens.access_token);
    this.#step('token', {
      scope: tokens.scope ?? null,
      token_type: tokens.token_type,
      has_refresh_token: Boolean(tokens.refresh_token),
      typ: jwt?.header?.typ ?? null,
      aud: jwt?.payload?.aud ?? null,
      token_scope: jwt?.payload?.scope ?? null,
      sub: jwt?.payload?.sub ?? null,
      fingerprint: tokenFingerprint(tokens.access_token),
    });
    this.#tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this.#codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }

  discoveryState() {
    return this.#discovery;
  }

  saveDiscoveryState(state) {
    this.#discovery = state;
  }

  async redirectToAuthorization(authorizationUrl) {
    const params = authorizationUrl.searchParams;
    const request = {
      scope: params.get('scope'),
      resource: params.get('resource'),
      code_challenge_method: params.get('code_challenge_method'),
      authorization_endpoint: `${authorizationUrl.origin}${authorizationUrl.pathname}`,
    };
    if (this.declineAuthorization) request.declined = true;
    this.authorizations.push(request);
    this.#step('authorize', request);
    if (this.declineAuthorization) return;
    const result = await authorizeHeadless(authorizationUrl, this.redirectUri, { fetch: this.#fetch, jar: this.#jar });
    if (result.get('error')) {
      throw new CheckFailed(`authorization server refused: ${result.get('error')} ${result.get('error_description') ?? ''}`);
    }
    check(result.get('state') === params.get('state'), 'the state came back changed');
    const code = result.get('code');
    check(code, `no code in the redirect: ${result}`);
    this.pendingResponses.push(result);
  }

  /** The oldest authorization response not yet taken (for SDK v2's `finishAuth`). */
  takeResponse() {
    const response = this.pendingResponses.shift();
    check(response, 'the SDK asked for authorization but no code was obtained');
    return response;
  }

  /** The code of the oldest authorization response not yet taken (for SDK 1.32's `finishAuth`). */
  takeCode() {
    return this.takeResponse().get('code');
  }
}

// The page of the browser test (`browser.mjs` bundles it with esbuild and serves it): the
// TypeScript SDK v2 client (`@modelcontextprotocol/client`) as a browser-based MCP client, on an
// origin of its own, running the whole OAuth flow against the MCP URL given as `?mcp=`:
//
// 1. connect with no token: 401 → Protected Resource Metadata → authorization server metadata →
//    dynamic registration → the authorization request, opened in a popup window. The user (the
//    driver, clicking Approve) consents; the authorization server redirects the popup to
//    `callback.html` on this page's origin, which hands its query back through localStorage;
//    `finishAuth(new URLSearchParams(query))` exchanges the code (checking RFC 9207 `iss`);
// 2. connect again, list the tools, call the read tool;
// 3. call the write tool: 403 `insufficient_scope` → a second authorization (a step-up) in the
//    popup → `finishAuth` → the call again succeeds; the read tool shows what was written.
//
// Every request the client makes goes through `recordingFetch`, and every step is recorded: the
// page ends by setting `window.__scopegateResult` (`{ok, steps, exchanges, error?}`), which the
// driver reads. Every fetch is cross-origin, so each one goes through CORS for real.

import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

const params = new URLSearchParams(location.search);
const MCP_URL = params.get('mcp');
const READ_TOOL = params.get('read') ?? 'list_notes';
const WRITE_TOOL = params.get('write') ?? 'add_note';
const WRITE_ARGS = JSON.parse(params.get('write-args') ?? '{"title":"from the browser"}');
// SDK v2 asks for the union of what it holds and what the challenge names (SEP-2350).
const STEP_UP_SCOPE = params.get('step-up-scope') ?? 'notes:read notes:write';
const CALLBACK_KEY = 'scopegate-oauth-callback';
const CALLBACK_TIMEOUT_MS = 30_000;

const steps = [];
const exchanges = [];

function step(name, details = {}) {
  steps.push({ step: name, ...details });
  console.log(`step ${name} ${JSON.stringify(details)}`);
}

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** `fetch`, recording each exchange (method, URL, status, challenge) for the summary. */
async function recordingFetch(input, init) {
  const url = input instanceof Request ? input.url : String(input);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  try {
    const response = await fetch(input, init);
    exchanges.push({
      method,
      url,
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
    });
    return response;
  } catch (error) {
    // A request CORS refuses rejects with a TypeError and no status.
    exchanges.push({ method, url, status: null, error: String(error) });
    throw error;
  }
}

/** Waits for `callback.html` to put the authorization response's query in localStorage. */
function nextCallback() {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + CALLBACK_TIMEOUT_MS;
    const poll = () => {
      const stored = localStorage.getItem(CALLBACK_KEY);
      if (stored !== null) {
        localStorage.removeItem(CALLBACK_KEY);
        resolve(stored);
      } else if (Date.now() > deadline) {
        reject(new CheckFailed(`no authorization response within ${CALLBACK_TIMEOUT_MS} ms`));
      } else {
        setTimeout(poll, 50);
      }
    };
    poll();
  });
}

/**
 * An `OAuthClientProvider` for a page: what it learns lives in memory (the page stays open), and
 * the authorization request opens in a popup whose redirect comes back to `callback.html`.
 */
class PopupOAuthProvider {
  #clientInformation;
  #tokens;
  #codeVerifier;
  #discovery;
  /** Every authorization request: its scope, resource, state, and the callback's promise. */
  authorizations = [];

  get redirectUrl() {
    return new URL('callback.html', location.href).toString();
  }

  get clientMetadata() {
    return {
      client_name: 'scopegate browser test',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
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
    step('registered', { client_id: info.client_id });
    this.#clientInformation = info;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    step('token', { scope: tokens.scope ?? null, has_refresh_token: Boolean(tokens.refresh_token) });
    this.#tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this.#codeVerifier = verifier;
  }

  codeVerifier() {
    check(this.#codeVerifier, 'no code verifier saved');
    return this.#codeVerifier;
  }

  discoveryState() {
    return this.#discovery;
  }

  saveDiscoveryState(state) {
    this.#discovery = state;
  }

  redirectToAuthorization(authorizationUrl) {
    const p = authorizationUrl.searchParams;
    const request = {
      scope: p.get('scope'),
      resource: p.get('resource'),
      code_challenge_method: p.get('code_challenge_method'),
      state: p.get('state'),
      authorization_endpoint: `${authorizationUrl.origin}${authorizationUrl.pathname}`,
    };
    step('authorize', { ...request, state: undefined });
    localStorage.removeItem(CALLBACK_KEY);
    const popup = window.open(authorizationUrl.toString(), 'scopegate-authorize', 'popup,width=600,height=700');
    check(popup, 'the popup was blocked');
    request.response = nextCallback().finally(() => popup.close());
    this.authorizations.push(request);
  }

  /** The latest authorization's response query, its state checked. */
  async response() {
    const request = this.authorizations.at(-1);
    check(request, 'the client asked for no authorization');
    const query = new URLSearchParams(await request.response);
    check(!query.get('error'), `the authorization server refused: ${query.get('error')} ${query.get('error_description') ?? ''}`);
    check(query.get('state') === request.state, 'the state came back changed');
    check(query.get('code'), `no code in the authorization response: ${query}`);
    step('authorization response', { has_iss: query.has('iss') });
    return query;
  }
}

const sameScopes = (a, b) =>
  [...new Set((a ?? '').split(/\s+/).filter(Boolean))].sort().join(' ') ===
  [...new Set((b ?? '').split(/\s+/).filter(Boolean))].sort().join(' ');

function newTransport(provider) {
  return new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: recordingFetch });
}

function newClient() {
  return new Client({ name: 'scopegate-browser-test', version: '0.0.0' }, { capabilities: {} });
}

async function run() {
  check(MCP_URL, 'no ?mcp= URL');
  check(new URL(MCP_URL).origin !== location.origin, 'the page must be on another origin than the MCP server');
  step('page', { origin: location.origin, mcp: MCP_URL });
  const provider = new PopupOAuthProvider();

  // 1. First contact: 401, discovery, registration, authorization in the popup.
  let client = newClient();
  let transport = newTransport(provider);
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without credentials: the server did not answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const challenged = exchanges.find((e) => e.url === MCP_URL && e.status === 401);
  check(challenged, 'no 401 from the MCP endpoint');
  step('challenged', { www_authenticate: challenged.challenge });
  const first = provider.authorizations.at(-1);
  check(first, 'connect() threw UnauthorizedError without asking for authorization');
  check(first.resource === MCP_URL, `resource indicator ${first.resource}, expected ${MCP_URL}`);
  check(first.code_challenge_method === 'S256', 'PKCE S256 not used');
  await transport.finishAuth(await provider.response());
  await transport.close().catch(() => {});

  // 2. Connected: the tools, and a read.
  client = newClient();
  transport = newTransport(provider);
  await client.connect(transport);
  step('connected', { protocol_version: transport.protocolVersion ?? null, session: Boolean(transport.sessionId) });
  const { tools } = await client.listTools();
  step('tools/list', { tools: tools.map((t) => t.name).sort() });
  const read = await client.callTool({ name: READ_TOOL, arguments: {} });
  check(!read.isError, `${READ_TOOL} failed: ${JSON.stringify(read.content)}`);
  step(`call ${READ_TOOL}`, { structuredContent: read.structuredContent ?? null });

  // 3. A write: 403 insufficient_scope, a step-up in the popup, the write again.
  const before = exchanges.length;
  let steppedUp = false;
  let written;
  try {
    written = await client.callTool({ name: WRITE_TOOL, arguments: WRITE_ARGS });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    steppedUp = true;
  }
  check(steppedUp, `${WRITE_TOOL} succeeded without a step-up: ${JSON.stringify(written)}`);
  const forbidden = exchanges.slice(before).find((e) => e.status === 403);
  check(forbidden, `no 403 before the step-up: ${JSON.stringify(exchanges.slice(before))}`);
  check(/error="insufficient_scope"/.test(forbidden.challenge ?? ''), `the 403 is not insufficient_scope: ${forbidden.challenge}`);
  step('forbidden', { www_authenticate: forbidden.challenge });
  const second = provider.authorizations.at(-1);
  check(second !== first, 'no second authorization request for the step-up');
  check(sameScopes(second.scope, STEP_UP_SCOPE), `the step-up asked for scope "${second.scope}", expected "${STEP_UP_SCOPE}"`);
  await transport.finishAuth(await provider.response());
  written = await client.callTool({ name: WRITE_TOOL, arguments: WRITE_ARGS });
  check(!written.isError, `${WRITE_TOOL} after the step-up failed: ${JSON.stringify(written.content)}`);
  step(`call ${WRITE_TOOL}`, { after_step_up: true, structuredContent: written.structuredContent ?? null });
  const after = await client.callTool({ name: READ_TOOL, arguments: {} });
  check(!after.isError, `${READ_TOOL} failed: ${JSON.stringify(after.content)}`);
  step(`call ${READ_TOOL}`, { structuredContent: after.structuredContent ?? null });
  await transport.close().catch(() => {});
}

run().then(
  () => {
    window.__scopegateResult = { ok: true, steps, exchanges };
  },
  (error) => {
    const message = error instanceof CheckFailed ? error.message : `${error?.name}: ${error?.message}\n${error?.stack ?? ''}`;
    console.error(`failed: ${message}`);
    window.__scopegateResult = { ok: false, error: message, steps, exchanges };
  },
);

// Real clients through a load balancer in front of several replicas of a scopegate server: every
// call must succeed whichever replica answers it, and every denial must be the same 403 challenge
// whichever replica answers it. The balancer names the replica that answered in an `X-Upstream`
// response header (nginx's `$upstream_addr`); a wrapped fetch records it.
//
//   node replicas.mjs <mcp-url> [options]             # stateless replicas
//   node replicas.mjs <mcp-url> --sessions [options]  # replicas sharing their sessions
//
// 1. The TypeScript SDK 1.32 (2025-11-25, no session: the replicas run `--stateless`) runs the
//    OAuth flow headless (oauth.mjs) for `--scope`, then makes `--calls` calls, `whoami` and
//    `list_notes` in turn, each of which must succeed; then calls `add_note` (needs notes:write,
//    which the token lacks) without stepping up: the provider declines the authorization the SDK
//    asks for, and the 403 is read from the recorded response.
// 2. The TypeScript SDK v2 (`@modelcontextprotocol/client`) pinned to 2026-07-28, with the same
//    access token as a plain bearer (`authProvider: { token }`): `--modern-calls` calls, then
//    `add_note` denials, which it surfaces as `InsufficientScopeError`.
// Each denial phase makes at least `--denials` calls and goes on (up to three times as many)
// until two replicas have answered one.
//
// With `--sessions` (replicas sharing legacy sessions, e.g. through Redis), the SDK 1.32 instead
// keeps the `Mcp-Session-Id` the `initialize` answer carried, and
// 1. after the same OAuth flow, makes `--calls` calls (which must succeed, on at least two
//    replicas, every request carrying that session id) and a `logging/setLevel`;
// 2. as a control, sends raw `tools/call whoami` POSTs with its own token and that session id
//    until all `--replicas` replicas have answered: each must be 200;
// 3. gets tokens for two intruders through the same authorization server: another user through
//    the owner's client registration (`login_hint=--other-user`; oidc.mjs logs that account in)
//    and the same user through a client of its own (a new registration). A session belongs to
//    its subject and client together, so each intruder's raw POSTs with the owner's session id
//    must be 404 from every replica;
// 4. ends the session (`terminateSession()`: a DELETE), after which the owner's raw POSTs with
//    the ended id must be 404 from every replica.
//
// Options (defaults fit the `notes` example):
//   --calls N            legacy calls that must succeed                       (12)
//   --modern-calls N     2026-07-28 calls that must succeed                   (6)
//   --denials N          add_note denials per client, at least               (4)
//   --scope S            the scope the first authorization must ask for       (notes:read)
//   --redirect-uri URL   registered redirect URI; never contacted (http://127.0.0.1/e2e-callback)
//   --sessions           the session run above instead of the stateless one
//   --replicas N         (--sessions) how many replicas raw requests must reach (3)
//   --other-user NAME    (--sessions) the intruding subject                   (e2e-other-user)
//
// stdout: one JSON line `{"ok":true,"upstreams":[…per call…],"calls":[…],"denials":[{upstream,
// status,wwwAuthenticate,…}],"modern":{"upstreams":[…],"calls":[…],"denials":[…]},"token":{…},
// "sessionId":null,"steps":[…],"exchanges":[…]}`; with --sessions `{"ok":true,"sessionId":"…",
// "protocolVersion":"…","initialize":{upstream,…},"calls":[…],"setLevel":{…},"owner":{claims,
// answers},"intruders":[{who,claims,answers:[{upstream,status,sentSessionId,…}]}],"end":{…},
// "ended":{answers},"token":{…},"steps":[…],"exchanges":[…]}` (or `{"ok":false,"error":"…",…}`);
// exit 0 / 1.
// stderr: every HTTP exchange, with the replica that answered.

import { parseArgs } from 'node:util';

import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';

import { HeadlessOAuthProvider, jwtParts, sameScopes } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';

const MODERN = '2026-07-28';
/** The response header the balancer names the answering replica in. */
const UPSTREAM_HEADER = 'x-upstream';
const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    calls: { type: 'string', default: '12' },
    'modern-calls': { type: 'string', default: '6' },
    denials: { type: 'string', default: '4' },
    scope: { type: 'string', default: 'notes:read' },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1/e2e-callback' },
    sessions: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '3' },
    'other-user': { type: 'string', default: 'e2e-other-user' },
  },
});

const log = (...parts) => console.error('[replicas]', ...parts);
/** What happened, in order: goes into the summary line. */
const { steps, step } = stepRecorder(log);

// ---- the wire: which replica answered each request ----------------------------------------------

/** Every exchange with the balancer (the MCP endpoint and the metadata), in order. */
const exchanges = [];

/**
 * A fetch that logs every exchange and records those with `origin` (the balancer) under `era`:
 * the JSON-RPC method, id and tool of the body, the status, the challenge, the replica, and the
 * session id sent (`sentSessionId`) and received (`sessionId`).
 */
function recordingFetch(era, origin) {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    let body;
    try {
      body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    } catch {
      body = undefined;
    }
    const sent = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const response = await fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
    const entry = {
      era,
      http: method,
      path: new URL(url).pathname,
      rpc: body?.method,
      id: body?.id,
      name: body?.params?.name,
      status: response.status,
      upstream: response.headers.get(UPSTREAM_HEADER),
      wwwAuthenticate: response.headers.get('www-authenticate'),
      sessionId: response.headers.get('mcp-session-id'),
      sentSessionId: sent.get('mcp-session-id'),
    };
    log(
      `${era} ${method} ${url} ${entry.rpc ?? ''} ${entry.name ?? ''}` +
        (entry.sentSessionId ? ` [session ${entry.sentSessionId}]` : '') +
        ` -> ${response.status}` +
        (entry.upstream ? ` from ${entry.upstream}` : '') +
        (entry.wwwAuthenticate ? ` (www-authenticate: ${entry.wwwAuthenticate})` : ''),
    );
    if (url.startsWith(origin)) exchanges.push(entry);
    return response;
  };
}

/** The exchange of the `tools/call` just made by `era`. */
function lastCall(era, tool) {
  const exchange = exchanges.findLast((e) => e.era === era && e.rpc === 'tools/call');
  check(exchange, `${era}: no tools/call on the wire`);
  check(exchange.name === tool, `${era}: the last tools/call on the wire is ${exchange.name}, not ${tool}`);
  check(exchange.upstream, `${era} ${tool}: the response has no ${UPSTREAM_HEADER} header`);
  return exchange;
}

const distinct = (records) => new Set(records.map((r) => r.upstream)).size;

const text = (result) => result.content?.map((c) => c.text ?? '').join('') ?? null;

/**
 * Calls `whoami` and `list_notes` in turn, `count` times: each must succeed. Returns what each
 * call got and from which replica.
 */
async function succeed(era, client, count) {
  const calls = [];
  for (let i = 0; i < count; i++) {
    const tool = i % 2 === 0 ? 'whoami' : 'list_notes';
    const result = await client.callTool({ name: tool, arguments: {} });
    const { upstream, status, sentSessionId } = lastCall(era, tool);
    check(status === 200, `${era} ${tool} #${i}: HTTP ${status} from ${upstream}`);
    check(!result.isError, `${era} ${tool} #${i} failed on ${upstream}: ${JSON.stringify(result.content)}`);
    calls.push({
      tool,
      upstream,
      status,
      sentSessionId,
      text: text(result),
      structuredContent: result.structuredContent ?? null,
    });
  }
  check(distinct(calls) >= 2, `${era}: every call landed on ${calls[0]?.upstream}; expected at least two replicas`);
  return calls;
}

/**
 * Calls `add_note` until `min` calls are made and two replicas have refused one (at most three
 * times `min` calls); each must be refused. Returns the status and challenge of each refusal.
 */
async function refused(era, client, min) {
  const denials = [];
  for (let i = 0; i < 3 * min && (i < min || distinct(denials) < 2); i++) {
    let error;
    try {
      const result = await client.callTool({ name: 'add_note', arguments: { title: `denied ${i}` } });
      error = new CheckFailed(`${era} add_note #${i} was not refused: ${JSON.stringify(result)}`);
    } catch (caught) {
      error = caught;
    }
    if (error instanceof CheckFailed) throw error;
    const { upstream, status, wwwAuthenticate } = lastCall(era, 'add_note');
    denials.push({ upstream, status, wwwAuthenticate, error: error?.constructor?.name, message: error?.message });
  }
  check(distinct(denials) >= 2, `${era}: every denial came from ${denials[0]?.upstream}; expected at least two replicas`);
  for (const denial of denials) {
    check(denial.status === 403, `${era} add_note: HTTP ${denial.status} from ${denial.upstream}`);
    check(/error="insufficient_scope"/.test(denial.wwwAuthenticate ?? ''),
      `${era} add_note: the challenge from ${denial.upstream} is ${denial.wwwAuthenticate}`);
    check(denial.wwwAuthenticate === denials[0].wwwAuthenticate,
      `${era} add_note: ${denial.upstream} challenged with ${denial.wwwAuthenticate}, ` +
        `${denials[0].upstream} with ${denials[0].wwwAuthenticate}`);
  }
  return denials;
}

// ---- 1. the SDK 1.32 with OAuth -----------------------------------------------------------------

function newLegacy(url, provider, fetch) {
  const client = new Client({ name: 'scopegate-e2e-replicas', version: '0.0.0' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch });
  return { client, transport };
}

/**
 * The first connection: 401 → discovery (through the balancer) → registration → authorization
 * → UnauthorizedError; the code is exchanged for a token, which `provider` then holds.
 */
async function authorize(url, provider, fetch) {
  const { client, transport } = newLegacy(url, provider, fetch);
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without any credentials: the server did not answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const asked = provider.authorizations.at(-1);
  check(asked, 'connect() threw UnauthorizedError without asking for authorization');
  check(sameScopes(asked.scope ?? '', opts.scope), `the authorization asked for "${asked.scope}", expected "${opts.scope}"`);
  check(asked.resource === url.href, `resource indicator ${asked.resource}, expected ${url.href}`);
  await transport.finishAuth(provider.takeCode());
  await transport.close().catch(() => {});
}

async function legacyRun(url) {
  const fetch = recordingFetch('legacy', url.origin);
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], { fetch, step });
  await authorize(url, provider, fetch);

  const { client, transport } = newLegacy(url, provider, fetch);
  await client.connect(transport);
  const sessionId = transport.sessionId ?? null;
  check(sessionId === null, `a stateless server issued the session ${sessionId}`);
  step('connected', { protocol_version: transport.protocolVersion ?? null, session: sessionId });

  const calls = await succeed('legacy', client, Number(opts.calls));
  step('calls', { upstreams: calls.map((c) => c.upstream) });

  // The user will not step up: the SDK asks, the provider declines, the SDK gives up.
  provider.declineAuthorization = true;
  const denials = await refused('legacy', client, Number(opts.denials));
  step('denials', { upstreams: denials.map((d) => d.upstream) });
  await client.close();

  return { sessionId, calls, denials, accessToken: provider.tokens().access_token };
}

// ---- 2. the SDK v2 pinned to 2026-07-28, with the same token ------------------------------------

async function modernRun(url, accessToken) {
  const client = new ModernClient(
    { name: 'scopegate-e2e-replicas-modern', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN } } },
  );
  const transport = new ModernTransport(url, {
    authProvider: { token: async () => accessToken },
    fetch: recordingFetch('modern', url.origin),
  });
  await client.connect(transport);
  const protocolVersion = client.getNegotiatedProtocolVersion();
  check(protocolVersion === MODERN, `the pinned client negotiated ${protocolVersion}`);
  step('modern connected', { protocol_version: protocolVersion });

  const calls = await succeed('modern', client, Number(opts['modern-calls']));
  step('modern calls', { upstreams: calls.map((c) => c.upstream) });
  const denials = await refused('modern', client, Number(opts.denials));
  step('modern denials', { upstreams: denials.map((d) => d.upstream) });
  await client.close();

  return { protocolVersion, upstreams: calls.map((c) => c.upstream), calls, denials };
}

// ---- 3. (--sessions) the SDK 1.32 on one session, served by every replica -----------------------

/** An `OAuthClientProvider` whose authorization requests name the account to log in. */
class LoginHintProvider extends HeadlessOAuthProvider {
  constructor(redirectUri, deps, loginHint) {
    super(redirectUri, deps);
    this.loginHint = loginHint;
  }

  async redirectToAuthorization(authorizationUrl) {
    if (this.loginHint) authorizationUrl.searchParams.set('login_hint', this.loginHint);
    return super.redirectToAuthorization(authorizationUrl);
  }
}

/** The claims that make a session's owner (subject and client), and the token's audience. */
function ownerClaims(accessToken) {
  const payload = jwtParts(accessToken)?.payload ?? {};
  return { sub: payload.sub ?? null, client_id: payload.client_id ?? null, aud: payload.aud ?? null };
}

/**
 * A token for `who` through the SDK's `auth()` (discovery through the balancer, then the
 * authorization server): logged in as `loginHint` (default: oidc.mjs's test user), through the
 * registration `clientInformation` (default: a new one).
 */
async function tokenFor(url, who, { loginHint, clientInformation } = {}) {
  const fetch = recordingFetch(who, url.origin);
  const prefixed = (name, details) => step(`${who}: ${name}`, details);
  const provider = new LoginHintProvider(opts['redirect-uri'], { fetch, step: prefixed }, loginHint);
  if (clientInformation) provider.saveClientInformation(clientInformation);
  const asked = await auth(provider, { serverUrl: url, scope: opts.scope, fetchFn: fetch });
  check(asked === 'REDIRECT', `${who}: auth() gave ${asked}, expected REDIRECT`);
  const code = provider.takeCode();
  const got = await auth(provider, { serverUrl: url, authorizationCode: code, fetchFn: fetch });
  check(got === 'AUTHORIZED', `${who}: auth() with the code gave ${got}, expected AUTHORIZED`);
  return provider.tokens().access_token;
}

let rawIds = 1000;

/**
 * Raw `tools/call whoami` POSTs with `accessToken` and `sessionId` until every one of
 * `--replicas` replicas has answered one (at least that many requests, at most four times as
 * many). Returns each answer: replica, status, the session id sent, and the body (shortened).
 */
async function rawRound(era, url, accessToken, sessionId, protocolVersion) {
  const fetch = recordingFetch(era, url.origin);
  const replicas = Number(opts.replicas);
  const answers = [];
  for (let i = 0; i < 4 * replicas && (i < replicas || distinct(answers) < replicas); i++) {
    const id = rawIds++;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': protocolVersion,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      }),
    });
    const body = await response.text();
    const exchange = exchanges.findLast((e) => e.era === era && e.id === id);
    check(exchange, `${era}: request ${id} was not recorded`);
    answers.push({
      upstream: exchange.upstream,
      status: response.status,
      sentSessionId: exchange.sentSessionId,
      body: body.slice(0, 300),
    });
  }
  check(distinct(answers) === replicas,
    `${era}: ${answers.length} requests reached ${distinct(answers)} replicas, expected ${replicas}`);
  return answers;
}

/** Every answer has `status`. */
function allAre(era, answers, status) {
  for (const answer of answers) {
    check(answer.status === status,
      `${era}: HTTP ${answer.status} from ${answer.upstream}, expected ${status}: ${answer.body}`);
  }
}

async function sessionRun(url) {
  const era = 'session';
  const fetch = recordingFetch(era, url.origin);
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], { fetch, step });
  await authorize(url, provider, fetch);

  // initialize: one replica creates the session, in the shared store.
  const { client, transport } = newLegacy(url, provider, fetch);
  await client.connect(transport);
  const sessionId = transport.sessionId ?? null;
  check(sessionId, 'the replicas issued no session (are they stateless?)');
  const protocolVersion = transport.protocolVersion ?? null;
  check(protocolVersion, 'no protocol version negotiated');
  const initialize = exchanges.findLast((e) => e.era === era && e.rpc === 'initialize');
  check(initialize?.status === 200, `initialize: HTTP ${initialize?.status}`);
  check(initialize.sessionId === sessionId, `initialize answered the session ${initialize.sessionId}, the transport holds ${sessionId}`);
  step('connected', { protocol_version: protocolVersion, session: sessionId, upstream: initialize.upstream });

  // Calls on the session, wherever nginx sends them.
  const calls = await succeed(era, client, Number(opts.calls));
  step('calls', { upstreams: calls.map((c) => c.upstream) });

  await client.setLoggingLevel('debug');
  const setLevelExchange = exchanges.findLast((e) => e.era === era && e.rpc === 'logging/setLevel');
  check(setLevelExchange?.status === 200, `logging/setLevel: HTTP ${setLevelExchange?.status}`);
  const setLevel = {
    upstream: setLevelExchange.upstream,
    status: setLevelExchange.status,
    sentSessionId: setLevelExchange.sentSessionId,
  };
  step('logging/setLevel', setLevel);

  // The owner's own raw requests: served everywhere (the control of the 404s below).
  const ownerToken = provider.tokens().access_token;
  const owner = { claims: ownerClaims(ownerToken) };
  owner.answers = await rawRound('owner', url, ownerToken, sessionId, protocolVersion);
  allAre('owner', owner.answers, 200);
  step('owner raw', { upstreams: owner.answers.map((a) => a.upstream) });

  // Intruders: another subject (same client), and the same subject through another client.
  const intruders = [];
  for (const [who, how] of [
    ['another user', { loginHint: opts['other-user'], clientInformation: provider.clientInformation() }],
    ['another client', {}],
  ]) {
    const token = await tokenFor(url, who, how);
    const claims = ownerClaims(token);
    const answers = await rawRound(who, url, token, sessionId, protocolVersion);
    allAre(who, answers, 404);
    intruders.push({ who, claims, answers });
    step(`${who} refused`, { claims, upstreams: answers.map((a) => a.upstream) });
  }

  // Still the owner's, intact: the refusals ended nothing.
  const still = await client.callTool({ name: 'whoami', arguments: {} });
  const stillExchange = lastCall(era, 'whoami');
  check(stillExchange.status === 200 && !still.isError,
    `whoami after the intruders: HTTP ${stillExchange.status} from ${stillExchange.upstream}: ${JSON.stringify(still.content)}`);
  const after = { upstream: stillExchange.upstream, status: stillExchange.status, sentSessionId: stillExchange.sentSessionId, text: text(still) };

  // The end, from one replica; then every replica has forgotten it.
  await transport.terminateSession();
  const deleted = exchanges.findLast((e) => e.era === era && e.http === 'DELETE');
  check(deleted, 'terminateSession() sent no DELETE');
  check(deleted.status >= 200 && deleted.status < 300, `DELETE: HTTP ${deleted.status} from ${deleted.upstream}`);
  const end = { upstream: deleted.upstream, status: deleted.status, sentSessionId: deleted.sentSessionId };
  step('ended', end);
  const ended = { answers: await rawRound('ended', url, ownerToken, sessionId, protocolVersion) };
  allAre('ended', ended.answers, 404);
  step('ended raw', { upstreams: ended.answers.map((a) => a.upstream) });
  await client.close();

  return {
    ok: true,
    sessionId,
    protocolVersion,
    initialize: { upstream: initialize.upstream, status: initialize.status, sessionId: initialize.sessionId },
    upstreams: calls.map((c) => c.upstream),
    calls,
    setLevel,
    after,
    owner,
    intruders,
    end,
    ended,
    token: steps.find((s) => s.step === 'token') ?? null,
    steps,
    exchanges,
  };
}

async function run(url) {
  if (opts.sessions) return sessionRun(url);
  const legacy = await legacyRun(url);
  const modern = await modernRun(url, legacy.accessToken);
  return {
    ok: true,
    upstreams: legacy.calls.map((c) => c.upstream),
    calls: legacy.calls,
    denials: legacy.denials,
    sessionId: legacy.sessionId,
    modern,
    token: steps.find((s) => s.step === 'token') ?? null,
    steps,
    exchanges,
  };
}

const url = positionals[0];
if (!url || positionals.length !== 1) {
  console.error('usage: node replicas.mjs <mcp-url> [--calls N] [--modern-calls N] [--denials N] [--scope S] ' +
    '[--sessions [--replicas N] [--other-user NAME]]');
  process.exit(2);
}

await runScript({
  main: () => run(new URL(url)),
  timeoutMs: TIMEOUT_MS,
  log,
  evidence: () => ({ steps, exchanges }),
});

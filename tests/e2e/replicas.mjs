// Real clients through a load balancer in front of several stateless replicas of a scopegate
// server: every call must succeed whichever replica answers it, and every denial must be the same
// 403 challenge whichever replica answers it. The balancer names the replica that answered in an
// `X-Upstream` response header (nginx's `$upstream_addr`); a wrapped fetch records it.
//
//   node replicas.mjs <mcp-url> [options]
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
// Options (defaults fit the `notes` example):
//   --calls N            legacy calls that must succeed                       (12)
//   --modern-calls N     2026-07-28 calls that must succeed                   (6)
//   --denials N          add_note denials per client, at least               (4)
//   --scope S            the scope the first authorization must ask for       (notes:read)
//   --redirect-uri URL   registered redirect URI; never contacted (http://127.0.0.1/e2e-callback)
//
// stdout: one JSON line `{"ok":true,"upstreams":[…per call…],"calls":[…],"denials":[{upstream,
// status,wwwAuthenticate,…}],"modern":{"upstreams":[…],"calls":[…],"denials":[…]},"token":{…},
// "sessionId":null,"steps":[…],"exchanges":[…]}` (or `{"ok":false,"error":"…",…}`); exit 0 / 1.
// stderr: every HTTP exchange, with the replica that answered.

import { parseArgs } from 'node:util';

import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { CheckFailed, HeadlessOAuthProvider, check, sameScopes } from './oauth.mjs';

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
  },
});

const log = (...parts) => console.error('[replicas]', ...parts);
/** What happened, in order: goes into the summary line. */
const steps = [];
const step = (name, details = {}) => {
  steps.push({ step: name, ...details });
  log(`step ${name}`, JSON.stringify(details));
};

// ---- the wire: which replica answered each request ----------------------------------------------

/** Every exchange with the balancer (the MCP endpoint and the metadata), in order. */
const exchanges = [];

/**
 * A fetch that logs every exchange and records those with `origin` (the balancer) under `era`:
 * the JSON-RPC method, id and tool of the body, the status, the challenge and the replica.
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
    };
    log(
      `${era} ${method} ${url} ${entry.rpc ?? ''} ${entry.name ?? ''} -> ${response.status}` +
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
    const { upstream, status } = lastCall(era, tool);
    check(status === 200, `${era} ${tool} #${i}: HTTP ${status} from ${upstream}`);
    check(!result.isError, `${era} ${tool} #${i} failed on ${upstream}: ${JSON.stringify(result.content)}`);
    calls.push({ tool, upstream, status, text: text(result), structuredContent: result.structuredContent ?? null });
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

async function legacyRun(url) {
  const fetch = recordingFetch('legacy', url.origin);
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], { fetch, step });

  // 401 → discovery (through the balancer) → registration → authorization → UnauthorizedError.
  let { client, transport } = newLegacy(url, provider, fetch);
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

  ({ client, transport } = newLegacy(url, provider, fetch));
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

async function run(url) {
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
  console.error('usage: node replicas.mjs <mcp-url> [--calls N] [--modern-calls N] [--denials N] [--scope S]');
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: `timed out after ${TIMEOUT_MS} ms`, steps, exchanges }));
  process.exit(1);
}, TIMEOUT_MS);

try {
  const summary = await run(new URL(url));
  clearTimeout(watchdog);
  console.log(JSON.stringify(summary));
  process.exit(0);
} catch (error) {
  clearTimeout(watchdog);
  const message = error instanceof CheckFailed ? error.message : `${error?.name}: ${error?.message}`;
  log(`FAILED: ${message}`);
  if (!(error instanceof CheckFailed)) log(error?.stack);
  console.log(JSON.stringify({ ok: false, error: message, steps, exchanges }));
  process.exit(1);
}

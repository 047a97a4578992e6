// The TypeScript SDK v2 client (`@modelcontextprotocol/client`) with DPoP (RFC 9449, SEP-1932)
// against a server that accepts it (the quickstart): the client's provider implements `dpop()`,
// so the SDK sends a proof with each token request, gets a DPoP-bound token (`token_type:
// DPoP`, `cnf.jkt`), and presents it in the `DPoP` scheme with a fresh proof on every request.
//
// 1. connect with no token: 401 → metadata → registration → authorization (headless) → token
//    request with a proof → `finishAuth` → connect again;
// 2. `tools/list`, `list_notes`;
// 3. `add_note` needs `notes:write`: 403 `insufficient_scope` in the DPoP scheme → SDK v2 asks for
//    the union → `finishAuth` (a proof again, the new token bound to the same key) → `add_note`.
//
//   node dpop.mjs <mcp-url> [--redirect-uri URL]
//
// stdout: one JSON line `{"ok":true,"thumbprint":…,"tokens":[…],"mcp":[…],"steps":[…]}` (or
// `{"ok":false,"error":…}`); `tokens` holds each token's type and `cnf`, `mcp` each exchange with
// the MCP endpoint (scheme, proof present, status, challenge). exit 0 / 1. stderr: a log.

import { parseArgs } from 'node:util';

import { Client, DpopSession, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

import { HeadlessOAuthProvider, jwtParts, sameScopes } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';

const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'redirect-uri': { type: 'string', default: 'http://127.0.0.1/e2e-callback' } },
});
const url = positionals[0];
if (!url || positionals.length !== 1) {
  console.error('usage: node dpop.mjs <mcp-url> [--redirect-uri URL]');
  process.exit(2);
}

const log = (...parts) => console.error('[dpop]', ...parts);
const { steps, step } = stepRecorder(log);
/** Every exchange with the MCP endpoint: what the SDK sent, and what came back. */
const mcp = [];
/** Every token the client was given. */
const tokens = [];

/** A `fetch` recording the MCP endpoint's exchanges (the SDK's DPoP layer sits above it). */
async function recordingFetch(input, init) {
  const target = new URL(input instanceof Request ? input.url : String(input));
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  const response = await fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
  const method = init?.method ?? 'GET';
  log(`${method} ${target} -> ${response.status}`);
  if (`${target.origin}${target.pathname}` === url) {
    let rpc;
    try {
      rpc = JSON.parse(init?.body ?? 'null')?.method;
    } catch {
      rpc = undefined;
    }
    mcp.push({
      http: method,
      rpc,
      scheme: headers.get('authorization')?.split(' ')[0] ?? null,
      proof: headers.has('dpop'),
      status: response.status,
      www_authenticate: response.headers.get('www-authenticate'),
    });
  }
  return response;
}

/** The headless provider, with a DPoP key for the client's whole life. */
class DpopProvider extends HeadlessOAuthProvider {
  session;

  async dpop() {
    this.session ??= await DpopSession.create();
    return this.session;
  }

  saveTokens(saved) {
    const jwt = jwtParts(saved.access_token);
    tokens.push({ token_type: saved.token_type, cnf: jwt?.payload?.cnf ?? null, scope: jwt?.payload?.scope ?? null });
    super.saveTokens(saved);
  }
}

async function run() {
  const provider = new DpopProvider(opts['redirect-uri'], {
    fetch: recordingFetch,
    step,
    grantTypes: ['authorization_code', 'refresh_token'],
  });
  const newTransport = () => new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch });
  const newClient = () => new Client({ name: 'scopegate-e2e-dpop', version: '1.0.0' }, { capabilities: {} });

  // 1. No token: 401, the authorization, a DPoP-bound token.
  let client = newClient();
  let transport = newTransport();
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without credentials');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  await transport.finishAuth(provider.takeResponse());
  await transport.close().catch(() => {});
  const thumbprint = provider.session?.thumbprint;
  check(thumbprint, 'the SDK never asked the provider for its DPoP key');
  check(tokens[0]?.token_type?.toLowerCase() === 'dpop', `the first token is ${tokens[0]?.token_type}, not DPoP`);
  check(tokens[0]?.cnf?.jkt === thumbprint, `the first token is bound to ${JSON.stringify(tokens[0]?.cnf)}, not ${thumbprint}`);

  client = newClient();
  transport = newTransport();
  await client.connect(transport);
  step('connected', { protocolVersion: client.getNegotiatedProtocolVersion() });

  // 2. The tools, and a read.
  const { tools } = await client.listTools();
  step('tools/list', { tools: tools.map((t) => t.name).sort() });
  const read = await client.callTool({ name: 'list_notes', arguments: {} });
  check(!read.isError, `list_notes failed: ${JSON.stringify(read.content)}`);
  step('call list_notes', {});

  // 3. A write: 403 in the DPoP scheme, the step-up, the write again.
  const before = mcp.length;
  let steppedUp = false;
  try {
    await client.callTool({ name: 'add_note', arguments: { title: 'dpop' } });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    steppedUp = true;
  }
  check(steppedUp, 'add_note succeeded without a step-up');
  const forbidden = mcp.slice(before).find((e) => e.status === 403);
  check(forbidden, 'no 403 before the step-up');
  step('forbidden', { www_authenticate: forbidden.www_authenticate });
  const asked = provider.authorizations.at(-1)?.scope ?? '';
  check(sameScopes(asked, 'notes:read notes:write'), `the step-up asked for "${asked}"`);
  await transport.finishAuth(provider.takeResponse());
  const written = await client.callTool({ name: 'add_note', arguments: { title: 'dpop' } });
  check(!written.isError, `add_note failed after the step-up: ${JSON.stringify(written.content)}`);
  step('call add_note', { after_step_up: true, structuredContent: written.structuredContent ?? null });
  await transport.close().catch(() => {});
  return { ok: true, thumbprint, tokens, mcp, steps };
}

await runScript({ main: run, timeoutMs: TIMEOUT_MS, log, evidence: () => ({ tokens, mcp, steps }) });

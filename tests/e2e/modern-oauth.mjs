// The TypeScript SDK v2 client (`@modelcontextprotocol/client`) pinned to MCP 2026-07-28 against a
// server with the `notes` tools and OAuth (the quickstart): the whole authorization flow, a
// step-up, and two tools that ask the client for something while they run, answered through
// input requests (SEP-2322):
//
// 1. connect with no token: `server/discover` gets 401 → Protected Resource Metadata →
//    authorization server metadata → dynamic registration (code and refresh grants) →
//    authorization code + PKCE for `notes:read` (headless, oauth.mjs) → `finishAuth` with the
//    whole authorization response (SDK v2 checks its RFC 9207 `iss`) → connect again;
// 2. `tools/list`; `list_notes` (empty);
// 3. `add_note` needs `notes:write`: 403 `insufficient_scope` → SDK v2 asks for the union of what
//    it holds and what the challenge names → `finishAuth` → `add_note` again, then a second note;
// 4. `summarize_notes` samples: the server answers `input_required` with a
//    `sampling/createMessage` request; the client runs its `sampling/createMessage` handler
//    (a fixed assistant text) and sends the call again with `inputResponses` and the
//    `requestState`; the tool returns the model's text;
// 5. `delete_note {id: 1}` elicits: the `elicitation/create` handler declines the first time
//    (the note stays) and accepts (`ok: true`) the second (the note is gone per `list_notes`).
//
//   node modern-oauth.mjs <mcp-url> [--redirect-uri URL]
//
// stdout: one JSON line `{"ok":true,"protocolVersion":…,"tools":[…],"steps":[…],"calls":{…},
// "sampling":[…],"elicitation":[…],"wire":[…]}` (or `{"ok":false,"error":…}`); exit 0 / 1.
// `wire` holds every exchange with the MCP endpoint (wire.mjs). stderr: every HTTP exchange.

import { parseArgs } from 'node:util';

import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

import { HeadlessOAuthProvider, jwtParts, sameScopes } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';
import { Wire, answerTo } from './wire.mjs';

const MODERN = '2026-07-28';
const REQUIRED_SCOPES_META = 'dev.scopegate/requiredScopes';
/** What the client's "model" answers every sampling request with. */
const MODEL_TEXT = 'These notes are about an end-to-end test and groceries.';
const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'redirect-uri': { type: 'string', default: 'http://127.0.0.1/e2e-callback' } },
});
const url = positionals[0];
if (!url || positionals.length !== 1) {
  console.error('usage: node modern-oauth.mjs <mcp-url> [--redirect-uri URL]');
  process.exit(2);
}

const log = (...parts) => console.error('[modern-oauth]', ...parts);
const { steps, step } = stepRecorder(log);
/** Every exchange with the MCP endpoint (the authorization server's are only logged). */
const wire = new Wire(url, { log, timeoutMs: TIMEOUT_MS });

/** What the client's handlers were asked: the params of each request, in order. */
const sampling = [];
const elicitation = [];
/** How the elicitation handler answers the next request. */
let elicitationAnswer = { action: 'decline' };

function newClient() {
  const client = new Client(
    { name: 'scopegate-e2e-modern-oauth', version: '1.0.0' },
    {
      capabilities: { elicitation: { form: {} }, sampling: {} },
      versionNegotiation: { mode: { pin: MODERN } },
    },
  );
  // On 2026-07-28 these run when a result says `input_required`: the client answers the
  // embedded requests through them and sends the call again.
  client.setRequestHandler('sampling/createMessage', async (request) => {
    sampling.push(request.params);
    return {
      role: 'assistant',
      content: { type: 'text', text: MODEL_TEXT },
      model: 'e2e-fixed-model',
      stopReason: 'endTurn',
    };
  });
  client.setRequestHandler('elicitation/create', async (request) => {
    elicitation.push({ params: request.params, answered: elicitationAnswer });
    return elicitationAnswer;
  });
  return client;
}

/** Calls a tool and records its outcome as a step named `call NAME`; fails on a tool error. */
async function call(client, name, args = {}, details = {}) {
  const result = await client.callTool({ name, arguments: args });
  const text = result.content?.filter((c) => c.type === 'text').map((c) => c.text).join('') ?? null;
  step(`call ${name}`, { ...details, isError: result.isError ?? false, text, structuredContent: result.structuredContent ?? null });
  check(!result.isError, `${name} failed: ${text}`);
  return { text, structuredContent: result.structuredContent };
}

async function run() {
  const fetch = wire.fetch('modern');
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], {
    fetch,
    step,
    // SDK v2 steps up by authorizing again even when it holds a refresh token (SEP-2350).
    grantTypes: ['authorization_code', 'refresh_token'],
  });
  const newTransport = () => new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch });

  // 1. No token: 401 at server/discover, then the authorization.
  let client = newClient();
  let transport = newTransport();
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without credentials: the server did not answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const challenged = wire.entries.find((e) => e.status === 401);
  check(challenged, 'no 401 before the first authorization');
  step('challenged', { rpc: challenged.rpc, www_authenticate: challenged.response['www-authenticate'] });
  const first = provider.authorizations.at(-1);
  check(first, 'connect() threw UnauthorizedError without asking for authorization');
  check(first.resource === url, `resource indicator ${first.resource}, expected ${url}`);
  await transport.finishAuth(provider.takeResponse());
  await transport.close().catch(() => {});

  client = newClient();
  transport = newTransport();
  await client.connect(transport);
  const connected = {
    era: client.getProtocolEra(),
    protocolVersion: client.getNegotiatedProtocolVersion(),
    transportSessionId: transport.sessionId ?? null,
  };
  step('connected', connected);
  check(connected.protocolVersion === MODERN, `the pinned client negotiated ${connected.protocolVersion}`);

  // 2. The tools, and a read with the first token.
  const { tools } = await client.listTools(undefined, { cacheMode: 'bypass' });
  const names = tools.map((t) => t.name).sort();
  const requiredScopes = Object.fromEntries(tools.map((t) => [t.name, t._meta?.[REQUIRED_SCOPES_META] ?? null]));
  step('tools/list', { tools: names, requiredScopes });
  await call(client, 'list_notes');

  // 3. A write: 403 insufficient_scope, a step-up, the write again.
  const beforeWrite = wire.entries.length;
  let steppedUp = false;
  try {
    await client.callTool({ name: 'add_note', arguments: { title: 'e2e' } });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    steppedUp = true;
  }
  check(steppedUp, 'add_note succeeded without a step-up');
  const forbidden = wire.entries.slice(beforeWrite).find((e) => e.status === 403);
  check(forbidden, 'no 403 before the step-up');
  step('forbidden', { www_authenticate: forbidden.response['www-authenticate'] });
  const second = provider.authorizations.at(-1);
  check(second !== first, 'no second authorization for the step-up');
  check(sameScopes(second.scope ?? '', 'notes:read notes:write'), `the step-up asked for "${second.scope}"`);
  await transport.finishAuth(provider.takeResponse());
  await call(client, 'add_note', { title: 'e2e' }, { after_step_up: true });
  await call(client, 'add_note', { title: 'groceries', body: 'milk' });

  // 4. Sampling through an input request.
  const summary = await call(client, 'summarize_notes');
  check(sampling.length === 1, `the sampling handler ran ${sampling.length} times`);
  check(summary.text === MODEL_TEXT, `summarize_notes returned ${JSON.stringify(summary.text)}`);

  // 5. Elicitation through an input request: declined, then accepted.
  elicitationAnswer = { action: 'decline' };
  await call(client, 'delete_note', { id: 1 }, { answer: 'decline' });
  const kept = await call(client, 'list_notes');
  check(kept.structuredContent?.notes?.some((n) => n.id === 1), 'note 1 is gone after a declined confirmation');
  elicitationAnswer = { action: 'accept', content: { ok: true } };
  await call(client, 'delete_note', { id: 1 }, { answer: 'accept' });
  check(elicitation.length === 2, `the elicitation handler ran ${elicitation.length} times`);
  const left = await call(client, 'list_notes');
  check(!left.structuredContent?.notes?.some((n) => n.id === 1), 'note 1 is still there after the confirmation');

  await call(client, 'whoami');
  const transportSessionIdAfter = transport.sessionId ?? null;
  await client.close();

  const entries = await wire.settled();
  for (const e of entries) {
    const where = `${e.http} ${e.rpc ?? ''} (#${e.id ?? '-'})`;
    check(e.request['mcp-session-id'] === null && e.response?.['mcp-session-id'] === null, `${where}: a session id`);
    check(e.rpc !== 'initialize', `${where}: the pinned client sent initialize`);
    if (e.status === 200 && e.id !== undefined) check(answerTo(e), `${where}: no answer on the wire`);
  }
  const token = jwtParts(provider.tokens()?.access_token ?? '');
  return {
    ok: true,
    ...connected,
    transportSessionIdAfter,
    tools: names,
    requiredScopes,
    steps,
    sampling,
    elicitation,
    modelText: MODEL_TEXT,
    tokenScope: token?.payload?.scope ?? null,
    wire: entries,
  };
}

await runScript({
  main: run,
  timeoutMs: TIMEOUT_MS,
  log,
  evidence: () => ({ steps, sampling, elicitation, wire: wire.entries }),
  beforeFailure: () => wire.settled().catch(() => {}),
});

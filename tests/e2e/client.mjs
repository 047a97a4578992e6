// The TypeScript MCP SDK as a real client of a scopegate server over Streamable HTTP, running the
// whole OAuth flow with no browser: 401 → protected resource metadata → authorization server
// metadata → dynamic registration → authorization code + PKCE → token → retry; then a step-up
// after a 403 `insufficient_scope`. The OAuth client provider and its headless user agent are in
// oauth.mjs (shared with replicas.mjs).
//
//   node client.mjs <mcp-url> [options]
//
// Only the MCP URL is needed: everything else (authorization server, scopes) is discovered from
// the server, so the same script runs against any server with the `notes` tools (the `notes`
// example with an external authorization server, or one that embeds its own). Options (defaults
// fit the `notes` example):
//   --tools a,b,c         the tools tools/list must name (exactly)
//   --read-tool NAME      a tool the first token may call          (list_notes)
//   --write-tool NAME     a tool that needs a step-up              (add_note)
//   --write-args JSON     its arguments                            ({"title":"e2e"})
//   --initial-scope S     the scope the first authorization must ask for   (notes:read)
//   --step-up-scope S     the scope the step-up must ask for    (notes:read notes:write)
//   --redirect-uri URL    registered redirect URI; never contacted (http://127.0.0.1/e2e-callback)
//
// stdout: one JSON line `{"ok":true,"tools":[...],"steps":[...],"access_token":"..."}` (or
// `{"ok":false,"error":"...","steps":[...]}`); exit 0 / 1. stderr: every HTTP exchange, for
// debugging.

import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { HeadlessOAuthProvider, sameScopes } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';

const REQUIRED_SCOPES_META = 'dev.scopegate/requiredScopes';
const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tools: { type: 'string', default: 'whoami,list_notes,get_note,add_note,delete_note,summarize_notes,export_notes,purge_notes' },
    'read-tool': { type: 'string', default: 'list_notes' },
    'write-tool': { type: 'string', default: 'add_note' },
    'write-args': { type: 'string', default: '{"title":"e2e"}' },
    'initial-scope': { type: 'string', default: 'notes:read' },
    'step-up-scope': { type: 'string', default: 'notes:read notes:write' },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1/e2e-callback' },
  },
});

const log = (...parts) => console.error('[client]', ...parts);
/** What happened, in order: goes into the summary line. */
const { steps, step } = stepRecorder(log);

// ---- HTTP: a logging fetch ---------------------------------------------------------------------

/** Every response this client got that was not a success, with its challenge. */
const denials = [];

async function loggingFetch(input, init) {
  const url = input instanceof Request ? input.url : String(input);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const response = await fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
  const challenge = response.headers.get('www-authenticate');
  log(`${method} ${url} -> ${response.status}${challenge ? ` (www-authenticate: ${challenge})` : ''}`);
  if (response.status >= 400) denials.push({ method, url, status: response.status, challenge });
  return response;
}

// ---- the flow -----------------------------------------------------------------------------------

function newTransport(url, provider) {
  return new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: loggingFetch });
}

function newClient() {
  return new Client({ name: 'scopegate-e2e', version: '0.0.0' }, { capabilities: {} });
}

async function run(url) {
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], { fetch: loggingFetch, step });

  // 1. First contact: 401 → discovery → registration → authorization → UnauthorizedError.
  let client = newClient();
  let transport = newTransport(url, provider);
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without any credentials: the server did not answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const first = denials.find((d) => d.status === 401);
  check(first, 'no 401 before the first authorization');
  step('challenged', { status: first.status, www_authenticate: first.challenge });
  const firstAuth = provider.authorizations.at(-1);
  check(firstAuth, 'connect() threw UnauthorizedError without asking for authorization');
  check(sameScopes(firstAuth.scope ?? '', opts['initial-scope']),
    `the first authorization asked for scope "${firstAuth.scope}", expected "${opts['initial-scope']}"`);
  check(firstAuth.resource === url, `resource indicator ${firstAuth.resource}, expected ${url}`);
  check(firstAuth.code_challenge_method === 'S256', 'PKCE S256 not used');

  // 2. Exchange the code, then connect again with a new transport.
  await transport.finishAuth(provider.takeCode());
  await transport.close().catch(() => {});
  client = newClient();
  transport = newTransport(url, provider);
  await client.connect(transport);
  check(transport.sessionId, 'no Mcp-Session-Id after initialize');
  step('connected', {
    server: client.getServerVersion(),
    protocol_version: transport.protocolVersion ?? null,
    session: Boolean(transport.sessionId),
  });

  // 3. tools/list: the expected tools, each advertising its required scopes.
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  const expected = opts.tools.split(',').map((s) => s.trim()).filter(Boolean).sort();
  check(JSON.stringify(names) === JSON.stringify(expected),
    `tools/list named ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`);
  const requiredScopes = {};
  for (const tool of tools) {
    const scopes = tool._meta?.[REQUIRED_SCOPES_META];
    check(Array.isArray(scopes), `tool ${tool.name} has no _meta["${REQUIRED_SCOPES_META}"] array`);
    requiredScopes[tool.name] = scopes;
  }
  step('tools/list', { tools: names, requiredScopes });

  // 4. A read with the first token.
  const readTool = opts['read-tool'];
  const before = await client.callTool({ name: readTool, arguments: {} });
  check(!before.isError, `${readTool} failed: ${JSON.stringify(before.content)}`);
  step(`call ${readTool}`, { structuredContent: before.structuredContent ?? null });

  // 5. A write: 403 insufficient_scope → the SDK asks for authorization → step-up → retry.
  const writeTool = opts['write-tool'];
  const writeArgs = JSON.parse(opts['write-args']);
  const deniedBefore = denials.length;
  let stepUp = false;
  let written;
  try {
    written = await client.callTool({ name: writeTool, arguments: writeArgs });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    stepUp = true;
  }
  check(stepUp, `${writeTool} succeeded without a step-up: ${JSON.stringify(written)}`);
  const forbidden = denials.slice(deniedBefore).find((d) => d.status === 403);
  check(forbidden, `no 403 before the step-up: ${JSON.stringify(denials.slice(deniedBefore))}`);
  check(/error="insufficient_scope"/.test(forbidden.challenge ?? ''),
    `the 403 challenge is not insufficient_scope: ${forbidden.challenge}`);
  step('forbidden', { status: forbidden.status, www_authenticate: forbidden.challenge });
  const stepUpAuth = provider.authorizations.at(-1);
  check(stepUpAuth !== firstAuth, 'no second authorization request for the step-up');
  check(sameScopes(stepUpAuth.scope ?? '', opts['step-up-scope']),
    `the step-up asked for scope "${stepUpAuth.scope}", expected "${opts['step-up-scope']}"`);
  await transport.finishAuth(provider.takeCode());
  written = await client.callTool({ name: writeTool, arguments: writeArgs });
  check(!written.isError, `${writeTool} after the step-up failed: ${JSON.stringify(written.content)}`);
  const note = written.structuredContent;
  check(note && note.id === 1, `${writeTool} returned ${JSON.stringify(note)}, expected structuredContent with id 1`);
  check(note.title === writeArgs.title, `the note's title is ${JSON.stringify(note.title)}`);
  step(`call ${writeTool}`, { after_step_up: true, structuredContent: note });

  // 6. The read again sees the write.
  const after = await client.callTool({ name: readTool, arguments: {} });
  check(!after.isError, `${readTool} failed: ${JSON.stringify(after.content)}`);
  const notes = after.structuredContent?.notes;
  check(Array.isArray(notes) && notes.some((n) => n.id === note.id && n.title === note.title),
    `${readTool} does not show the new note: ${JSON.stringify(after.structuredContent)}`);
  step(`call ${readTool}`, { structuredContent: after.structuredContent });

  // 7. Who the server thinks we are (public tool), if there is one.
  if (names.includes('whoami')) {
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    step('call whoami', { text: who.content?.map((c) => c.text).join('') ?? null });
  }

  // 8. End the session (DELETE), then close.
  await transport.terminateSession();
  check(transport.sessionId === undefined, 'the session was not ended');
  step('session ended');
  await client.close();

  return {
    ok: true,
    tools: names,
    requiredScopes,
    steps,
    denials,
    access_token: provider.tokens().access_token,
  };
}

const url = positionals[0];
if (!url || positionals.length !== 1) {
  console.error('usage: node client.mjs <mcp-url> [--tools a,b] [--read-tool N] [--write-tool N] [--write-args JSON]');
  process.exit(2);
}

await runScript({
  main: () => run(url),
  timeoutMs: TIMEOUT_MS,
  log,
  evidence: () => ({ steps, denials }),
});

// The TypeScript SDK v2 client (`@modelcontextprotocol/client`) pinned to MCP 2026-07-28 against a
// server with the `notes` tools and OAuth (the quickstart): the whole authorization flow, a
// step-up, two tools that ask the client for something while they run, answered through input
// requests (SEP-2322), and a tool that runs as a task (the tasks extension, SEP-2663), called
// through `@modelcontextprotocol/ext-tasks` (tasks.mjs):
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
//    (the note stays) and accepts (`ok: true`) the second (the note is gone per `list_notes`);
// 6. `export_notes` through an ext-tasks session over the same client: the call declares the
//    tasks extension and is answered with a task (`resultType: "task"`); ext-tasks polls
//    `tasks/get` (`Mcp-Name` = the task id), finds the task's confirmation question
//    (`input_required`), answers it through the session's input handler with `tasks/update`
//    (accept), and polls until `completed` with the export;
// 7. a step-up on that path: `purge_notes` (`notes:admin`) through the session gets 403 → SDK v2
//    asks for all three scopes → `finishAuth` → the call again, answered at once;
// 8. `export_notes` again, with the new token, declined: the task completes with the tool's
//    error;
// 9. a scope rule over the arguments, by a client of its own (the first holds `notes:admin` by
//    now): authorized for `notes:read notes:write` through the SDK's `auth()`, it adds a plain
//    note, then calls `add_note {confidential: true}`, which needs `notes:admin` too: 403 naming
//    `notes:admin notes:write` → SDK v2 asks for the union → `finishAuth` → the call again, the
//    note confidential;
// 10. a scope asked for at run time, by a third client authorized for `notes:read` alone:
//    `get_note` on the plain note, then on the confidential one (its fixed scope is
//    `notes:read`; the handler asks for `notes:admin` once it finds the note confidential):
//    403 naming `notes:admin notes:read` → SDK v2 asks for `notes:read notes:admin` →
//    `finishAuth` → the call again returns the note.
//
//   node modern-oauth.mjs <mcp-url> [--redirect-uri URL]
//
// stdout: one JSON line `{"ok":true,"protocolVersion":…,"tools":[…],"steps":[…],"calls":{…},
// "sampling":[…],"elicitation":[…],"taskInputs":[…],"wire":[…],"writer":{…},"reader":{…}}` (or
// `{"ok":false,"error":…}`); exit 0 / 1. `wire` holds every exchange with the MCP endpoint
// (wire.mjs); `writer` and `reader` are the clients of 9 and 10, each with its own `steps`,
// `wire` and `tokenScope`. stderr: every HTTP exchange.

import { parseArgs } from 'node:util';

import { Client, StreamableHTTPClientTransport, UnauthorizedError, auth } from '@modelcontextprotocol/client';

import { resultFromTaskOutcome, taskViewFromExecutionEvent } from '@modelcontextprotocol/ext-tasks/client';

import { HeadlessOAuthProvider, jwtParts, sameScopes } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';
import { taskSession } from './tasks.mjs';
import { Wire, answerTo } from './wire.mjs';

const MODERN = '2026-07-28';
const REQUIRED_SCOPES_META = 'dev.scopegate/requiredScopes';
/** What the client's "model" answers every sampling request with. */
const MODEL_TEXT = 'These notes are about an end-to-end test and groceries.';
const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);
const CLIENT_INFO = { name: 'scopegate-e2e-modern-oauth', version: '1.0.0' };
const CLIENT_CAPABILITIES = { elicitation: { form: {} }, sampling: {} };

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
/** What the ext-tasks session's input handler was asked, with its context, and answered. */
const taskInputs = [];
/** How it answers the next one. */
let taskAnswer = { action: 'decline' };

function newClient() {
  const client = new Client(CLIENT_INFO, {
    capabilities: CLIENT_CAPABILITIES,
    versionNegotiation: { mode: { pin: MODERN } },
  });
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

/**
 * Calls a tool and records its outcome as a step named `call NAME` (with `record`, the main
 * client's `step` unless given); fails on a tool error.
 */
async function call(client, name, args = {}, details = {}, record = step) {
  const result = await client.callTool({ name, arguments: args });
  const text = result.content?.filter((c) => c.type === 'text').map((c) => c.text).join('') ?? null;
  record(`call ${name}`, { ...details, isError: result.isError ?? false, text, structuredContent: result.structuredContent ?? null });
  check(!result.isError, `${name} failed: ${text}`);
  return { text, structuredContent: result.structuredContent };
}

/**
 * Calls a tool through the ext-tasks `session`, requiring a task; follows it to its end (ext-tasks
 * polls and answers its questions) and records it as a step named `task NAME`: the task id, the
 * statuses seen, the result. Fails unless the task completed (with a tool error only when
 * `toolError`).
 */
async function callAsTask(session, name, args, { toolError = false, ...details } = {}) {
  const execution = await session.callTool(name, args, { task: { preference: 'require' } });
  check(execution.kind === 'task', `${name} was answered at once, not with a task`);
  const statuses = [];
  const { outcome } = await execution.settle({
    onEvent: (event) => {
      const task = taskViewFromExecutionEvent(event);
      if (task && statuses.at(-1) !== task.status) statuses.push(task.status);
    },
  });
  check(outcome.status === 'completed', `task ${name} ended ${outcome.status}: ${causes(outcome.error)}`);
  const result = outcome.result;
  const text = result.content?.filter((c) => c.type === 'text').map((c) => c.text).join('') ?? null;
  const isError = result.isError ?? false;
  step(`task ${name}`, { ...details, taskId: execution.handle.taskId, statuses, isError, text, structuredContent: result.structuredContent ?? null });
  check(isError === toolError, `${name}: isError ${isError}: ${text}`);
  return { taskId: execution.handle.taskId, text, structuredContent: result.structuredContent };
}

/** The messages of `error` and its causes (ext-tasks wraps what it gets), one line. */
function causes(error) {
  const messages = [];
  for (let e = error; e; e = e.cause) messages.push(e.message ?? String(e));
  return messages.join(' <- ').replace(/\s+/g, ' ');
}

/** Whether `error` or one of its causes is an `UnauthorizedError` (ext-tasks wraps what it gets). */
function unauthorized(error) {
  for (let e = error; e; e = e.cause) if (e instanceof UnauthorizedError) return true;
  return false;
}

/**
 * Another client of the same server beside the main one, with a provider of its own (a new
 * registration, its own tokens): its steps and its wire are kept apart, under `name` in the
 * summary, so each client's authorizations and exchanges read on their own.
 */
function sideClient(name) {
  const sideLog = (...parts) => log(`[${name}]`, ...parts);
  const recorder = stepRecorder(sideLog);
  const sideWire = new Wire(url, { log: sideLog, timeoutMs: TIMEOUT_MS });
  const fetch = sideWire.fetch('modern');
  const provider = new HeadlessOAuthProvider(opts['redirect-uri'], {
    fetch,
    step: recorder.step,
    grantTypes: ['authorization_code', 'refresh_token'],
  });
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch });
  return { name, ...recorder, wire: sideWire, fetch, provider, transport, client: newClient() };
}

/**
 * Authorizes `side` for `scope` through the SDK's `auth()` (discovery, registration, the
 * authorization headless) and its transport's `finishAuth`, then connects its client.
 */
async function authorizeAndConnect(side, scope) {
  const asked = await auth(side.provider, { serverUrl: new URL(url), scope, fetchFn: side.fetch });
  check(asked === 'REDIRECT', `${side.name}: auth() gave ${asked}, expected REDIRECT`);
  check(sameScopes(side.provider.authorizations.at(-1)?.scope ?? '', scope), `${side.name}: asked for "${side.provider.authorizations.at(-1)?.scope}"`);
  await side.transport.finishAuth(side.provider.takeResponse());
  await side.client.connect(side.transport);
  check(side.client.getNegotiatedProtocolVersion() === MODERN, `${side.name} negotiated ${side.client.getNegotiatedProtocolVersion()}`);
  side.step('connected', { protocolVersion: side.client.getNegotiatedProtocolVersion() });
}

/**
 * Calls tool `name` through `side`'s client, which must be refused for want of scopes: 403
 * `insufficient_scope`, SDK v2 asks for the union of what it holds and the challenge's scopes
 * (`union`), and throws `UnauthorizedError`; the script hands the code over (`finishAuth`) and
 * calls again, as `after_step_up`. Returns what the call returned the second time.
 */
async function steppedUpCall(side, name, args, union) {
  const before = side.wire.entries.length;
  const authorizations = side.provider.authorizations.length;
  let steppedUp = false;
  try {
    await side.client.callTool({ name, arguments: args });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    steppedUp = true;
  }
  check(steppedUp, `${side.name}: ${name} succeeded without a step-up`);
  const forbidden = side.wire.entries.slice(before).find((e) => e.status === 403);
  check(forbidden, `${side.name}: no 403 before the step-up for ${name}`);
  side.step('forbidden', { rpc: forbidden.rpc, www_authenticate: forbidden.response['www-authenticate'] });
  check(side.provider.authorizations.length === authorizations + 1, `${side.name}: no authorization for the step-up`);
  const asked = side.provider.authorizations.at(-1).scope ?? '';
  check(sameScopes(asked, union), `${side.name}: the step-up for ${name} asked for "${asked}"`);
  await side.transport.finishAuth(side.provider.takeResponse());
  return call(side.client, name, args, { after_step_up: true }, side.step);
}

/** Checks of every exchange of one client's wire: 2026-07-28 without a session, answered. */
function checkWire(entries) {
  for (const e of entries) {
    const where = `${e.http} ${e.rpc ?? ''} (#${e.id ?? '-'})`;
    check(e.request['mcp-session-id'] === null && e.response?.['mcp-session-id'] === null, `${where}: a session id`);
    check(e.rpc !== 'initialize', `${where}: the pinned client sent initialize`);
    if (e.status === 200 && e.id !== undefined) check(answerTo(e), `${where}: no answer on the wire`);
  }
}

/** What the summary holds of a side client. */
async function sideSummary(side) {
  return {
    steps: side.steps,
    tokenScope: jwtParts(side.provider.tokens()?.access_token ?? '')?.payload?.scope ?? null,
    wire: await side.wire.settled(),
  };
}

/** The side clients, once made (for the summary, and a failure's evidence). */
const sides = {};

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

  // 6. A task through ext-tasks, over the same client and transport: its question answered
  //    with tasks/update, the export polled for.
  const session = taskSession(client, transport, {
    endpointId: url,
    protocolVersion: MODERN,
    clientInfo: CLIENT_INFO,
    clientCapabilities: CLIENT_CAPABILITIES,
    onInputRequest: async (request, context) => {
      const { scope, delivery, taskId = null, inputId = null } = context;
      taskInputs.push({ kind: request.kind, params: request.params, scope, delivery, taskId, inputId, answered: taskAnswer });
      return taskAnswer;
    },
  });
  taskAnswer = { action: 'accept', content: { ok: true } };
  const exported = await callAsTask(session, 'export_notes', {}, { answer: 'accept' });
  check(exported.structuredContent?.count === 1, `export_notes exported ${JSON.stringify(exported.structuredContent)}`);

  // 7. A step-up on that path: purge_notes needs notes:admin.
  const beforePurge = wire.entries.length;
  let purgeSteppedUp = false;
  try {
    await session.callTool('purge_notes', {}, { task: { preference: 'forbid' } });
  } catch (error) {
    if (!unauthorized(error)) throw error;
    purgeSteppedUp = true;
  }
  check(purgeSteppedUp, 'purge_notes succeeded without a step-up');
  const purgeForbidden = wire.entries.slice(beforePurge).find((e) => e.status === 403);
  check(purgeForbidden, 'no 403 before the step-up for purge_notes');
  step('forbidden', { rpc: purgeForbidden.rpc, www_authenticate: purgeForbidden.response['www-authenticate'] });
  const third = provider.authorizations.at(-1);
  check(third !== second, 'no third authorization for the step-up to notes:admin');
  check(sameScopes(third.scope ?? '', 'notes:read notes:write notes:admin'), `the step-up asked for "${third.scope}"`);
  await transport.finishAuth(provider.takeResponse());
  const purge = await session.callTool('purge_notes', {}, { task: { preference: 'forbid' } });
  check(purge.kind === 'immediate', `purge_notes was answered with a ${purge.kind}`);
  const purged = resultFromTaskOutcome(await purge.result());
  const purgedText = purged.content?.filter((c) => c.type === 'text').map((c) => c.text).join('') ?? null;
  step('call purge_notes', { after_step_up: true, isError: purged.isError ?? false, text: purgedText });
  check(!purged.isError, `purge_notes failed: ${purgedText}`);

  // 8. A task with the new token, its question declined: completed with the tool's error.
  taskAnswer = { action: 'decline' };
  await callAsTask(session, 'export_notes', {}, { answer: 'decline', toolError: true });
  check(taskInputs.length === 2, `the session's input handler ran ${taskInputs.length} times`);
  await session.close();

  await call(client, 'whoami');
  const transportSessionIdAfter = transport.sessionId ?? null;
  await client.close();

  // 9. A scope rule over the arguments (`when(confidential => "notes:admin")`), from a client
  //    holding notes:read notes:write: the main one holds notes:admin since step 7.
  const writer = (sides.writer = sideClient('writer'));
  await authorizeAndConnect(writer, 'notes:read notes:write');
  // The control: the same tool, the note not confidential, needs no more than notes:write.
  const plain = await call(writer.client, 'add_note', { title: 'plain' }, {}, writer.step);
  check(plain.structuredContent?.confidential === undefined, `add_note returned ${JSON.stringify(plain.structuredContent)}`);
  const secret = { title: 'secret', body: 'for admins', confidential: true };
  const added = await steppedUpCall(writer, 'add_note', secret, 'notes:read notes:write notes:admin');
  const note = added.structuredContent;
  check(note?.confidential === true && note?.title === secret.title, `add_note returned ${JSON.stringify(note)}`);
  await writer.client.close();

  // 10. A scope asked for at run time (`may_require`): get_note needs notes:read, and
  //     notes:admin once the note turns out confidential; the reader holds notes:read alone.
  const reader = (sides.reader = sideClient('reader'));
  await authorizeAndConnect(reader, 'notes:read');
  // The control: a note that is not confidential reads with notes:read.
  const plainRead = await call(reader.client, 'get_note', { id: plain.structuredContent.id }, {}, reader.step);
  check(JSON.stringify(plainRead.structuredContent) === JSON.stringify(plain.structuredContent), `get_note returned ${JSON.stringify(plainRead.structuredContent)}`);
  const read = await steppedUpCall(reader, 'get_note', { id: note.id }, 'notes:read notes:admin');
  check(JSON.stringify(read.structuredContent) === JSON.stringify(note), `get_note returned ${JSON.stringify(read.structuredContent)}, not ${JSON.stringify(note)}`);
  await reader.client.close();

  const entries = await wire.settled();
  checkWire(entries);
  const writerSummary = await sideSummary(writer);
  const readerSummary = await sideSummary(reader);
  checkWire(writerSummary.wire);
  checkWire(readerSummary.wire);
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
    taskInputs,
    modelText: MODEL_TEXT,
    tokenScope: token?.payload?.scope ?? null,
    wire: entries,
    writer: writerSummary,
    reader: readerSummary,
  };
}

await runScript({
  main: run,
  timeoutMs: TIMEOUT_MS,
  log,
  evidence: () => ({
    steps,
    sampling,
    elicitation,
    taskInputs,
    wire: wire.entries,
    ...Object.fromEntries(Object.entries(sides).map(([name, side]) => [name, { steps: side.steps, wire: side.wire.entries }])),
  }),
  beforeFailure: () => Promise.all([wire, ...Object.values(sides).map((side) => side.wire)].map((w) => w.settled().catch(() => {}))),
});

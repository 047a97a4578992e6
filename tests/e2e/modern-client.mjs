// Both protocol eras against one running scopegate server, with real clients:
//
// * the modern one: `@modelcontextprotocol/client` 2.4 (the TypeScript SDK v2) pinned to MCP
//   2026-07-28 (`versionNegotiation: { mode: { pin: '2026-07-28' } }`): `server/discover` at
//   connect, then stateless requests, each with its `_meta` envelope and the `MCP-Protocol-Version`,
//   `Mcp-Method`, `Mcp-Name` headers;
// * the legacy one: `@modelcontextprotocol/sdk` 1.32 (`initialize`, a session, 2025-11-25),
//   opened before the modern client and used again after it, on the same session.
//
//   node modern-client.mjs <mcp-url> --profile notes|conformance
//
// Authorization must be off on the server (`notes --no-auth`, `conformance`): no client has a
// token. Profiles:
//   notes        tools/call whoami (public); tools/call list_notes (needs notes:read) must be
//                refused with 403 insufficient_scope, which the client must surface.
//   conformance  tools/call test_simple_text; test_tool_with_progress with a progress handler
//                (progress must arrive); resources/read test://static-text; prompts/get
//                test_simple_prompt.
//
// stdout: one JSON line `{"ok":true,"discover":{…},"tools":[…],"calls":{…},"wire":[…],
// "legacy":{…}}` (or `{"ok":false,"error":"…"}`); exit 0 / 1. `wire` is every exchange of both
// clients with the MCP endpoint as their fetch saw it (wire.mjs): request headers, the JSON-RPC
// method and envelope version of the body, the status and response headers, and the JSON-RPC
// results/errors of the response (JSON or event stream). stderr: the same exchanges as they
// happen, for debugging.

import { parseArgs } from 'node:util';

import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { CheckFailed, check, runScript } from './script.mjs';
import { Wire, answerTo } from './wire.mjs';

const MODERN = '2026-07-28';
const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';
const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const PROFILES = {
  notes: { publicTool: 'whoami', deniedTool: 'list_notes', legacyTool: 'whoami' },
  conformance: {
    publicTool: 'test_simple_text',
    progressTool: 'test_tool_with_progress',
    resource: 'test://static-text',
    prompt: 'test_simple_prompt',
    legacyTool: 'test_simple_text',
  },
};

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { profile: { type: 'string', default: 'conformance' } },
});

const url = positionals[0];
if (!url || positionals.length !== 1) {
  console.error('usage: node modern-client.mjs <mcp-url> [--profile notes|conformance]');
  process.exit(2);
}

const log = (...parts) => console.error('[modern-client]', ...parts);

// ---- the wire: every exchange of both clients ---------------------------------------------------

const wire = new Wire(url, { log, timeoutMs: TIMEOUT_MS });

/** The wire entries of one era, bodies read. */
async function wireOf(era) {
  return (await wire.settled()).filter((e) => e.era === era);
}

/** What an error looked like to the caller: its class and whatever the client attached. */
function describeError(error) {
  const described = { class: error?.constructor?.name, name: error?.name, message: error?.message };
  for (const key of ['code', 'requiredScope', 'errorDescription', 'status', 'data']) {
    if (error?.[key] !== undefined) described[key] = error[key];
  }
  if (error?.resourceMetadataUrl) described.resourceMetadataUrl = String(error.resourceMetadataUrl);
  return described;
}

// ---- the legacy client (SDK 1.32): a session around the modern run ------------------------------

async function legacyOpen(url) {
  const client = new LegacyClient({ name: 'scopegate-e2e-legacy', version: '1.0.0' });
  const transport = new LegacyTransport(new URL(url), { fetch: wire.fetch('legacy') });
  await client.connect(transport);
  const listed = await client.listTools();
  return {
    client,
    transport,
    report: {
      protocolVersion: transport.protocolVersion ?? null,
      sessionId: transport.sessionId ?? null,
      tools: listed.tools.map((t) => t.name).sort(),
    },
  };
}

async function legacyFinish(legacy, profile) {
  const { client, transport, report } = legacy;
  // The same session, after the modern client's traffic.
  const listed = await client.listTools();
  report.toolsAgain = listed.tools.map((t) => t.name).sort();
  const called = await client.callTool({ name: profile.legacyTool, arguments: {} });
  report.call = { isError: called.isError ?? false, text: called.content?.[0]?.text };
  report.sessionIdAfter = transport.sessionId ?? null;
  await transport.terminateSession();
  await client.close();
  return report;
}

// ---- the modern client (SDK v2, pinned to 2026-07-28) -------------------------------------------

async function modernRun(url, profile) {
  const client = new ModernClient(
    { name: 'scopegate-e2e-modern', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN } } },
  );
  const transport = new ModernTransport(new URL(url), { fetch: wire.fetch('modern') });
  await client.connect(transport);
  const report = {
    era: client.getProtocolEra(),
    protocolVersion: client.getNegotiatedProtocolVersion(),
    serverVersion: client.getServerVersion() ?? null,
    transportSessionId: transport.sessionId ?? null,
  };
  check(report.era === 'modern', `the pinned client negotiated era ${report.era}`);
  check(report.protocolVersion === MODERN, `the pinned client negotiated ${report.protocolVersion}`);

  // What connect() got from server/discover, and one more discover of our own.
  const atConnect = client.getDiscoverResult();
  check(atConnect, 'connect() kept no DiscoverResult');
  const discovered = await client.discover();
  report.discover = discovered;
  check(discovered.supportedVersions?.includes(MODERN), `supportedVersions ${JSON.stringify(discovered.supportedVersions)}`);

  const calls = {};
  const listed = await client.listTools(undefined, { cacheMode: 'bypass' });
  report.tools = listed.tools.map((t) => t.name).sort();
  check(report.tools.includes(profile.publicTool), `tools/list lacks ${profile.publicTool}: ${report.tools}`);

  const called = await client.callTool({ name: profile.publicTool, arguments: {} });
  calls[profile.publicTool] = { isError: called.isError ?? false, text: called.content?.[0]?.text };
  check(!called.isError, `${profile.publicTool} failed: ${JSON.stringify(called)}`);

  if (profile.progressTool) {
    const progress = [];
    const result = await client.callTool(
      { name: profile.progressTool, arguments: {} },
      { onprogress: (p) => progress.push(p) },
    );
    calls[profile.progressTool] = { isError: result.isError ?? false, text: result.content?.[0]?.text, progress };
    check(progress.length > 0, `${profile.progressTool}: no progress notification reached the handler`);
  }

  if (profile.resource) {
    const read = await client.readResource({ uri: profile.resource }, { cacheMode: 'bypass' });
    report.resource = read.contents;
    check(read.contents?.[0]?.text, `resources/read ${profile.resource}: ${JSON.stringify(read)}`);
  }

  if (profile.prompt) {
    const prompt = await client.getPrompt({ name: profile.prompt, arguments: {} });
    report.prompt = prompt.messages;
    check(prompt.messages?.length > 0, `prompts/get ${profile.prompt}: ${JSON.stringify(prompt)}`);
  }

  if (profile.deniedTool) {
    try {
      const result = await client.callTool({ name: profile.deniedTool, arguments: {} });
      throw new CheckFailed(`${profile.deniedTool} without a token was not refused: ${JSON.stringify(result)}`);
    } catch (error) {
      if (error instanceof CheckFailed) throw error;
      report.denied = { tool: profile.deniedTool, error: describeError(error) };
      log(`${profile.deniedTool} refused as expected:`, JSON.stringify(report.denied.error));
    }
  }

  report.calls = calls;
  report.transportSessionIdAfter = transport.sessionId ?? null;
  await client.close();
  return report;
}

// ---- checks on the wire -------------------------------------------------------------------------

function checkModernWire(entries) {
  check(entries.length > 0, 'the modern client sent nothing');
  for (const e of entries) {
    const where = `modern ${e.http} ${e.rpc ?? ''} (#${e.id ?? '-'})`;
    check(e.http === 'POST', `${where}: the modern client sent ${e.http}`);
    check(e.request['mcp-session-id'] === null, `${where}: sent Mcp-Session-Id`);
    check(e.response['mcp-session-id'] === null, `${where}: the server answered with Mcp-Session-Id`);
    if (e.id === undefined) continue; // a notification
    check(e.bodyVersion === MODERN, `${where}: body _meta version ${e.bodyVersion}`);
    check(e.request['mcp-protocol-version'] === MODERN, `${where}: MCP-Protocol-Version ${e.request['mcp-protocol-version']}`);
    check(e.request['mcp-method'] === e.rpc, `${where}: Mcp-Method ${e.request['mcp-method']}`);
    if (['tools/call', 'prompts/get', 'resources/read'].includes(e.rpc)) {
      check(e.request['mcp-name'] === e.bodyName, `${where}: Mcp-Name ${e.request['mcp-name']} for ${e.bodyName}`);
    }
    const answer = answerTo(e);
    if (e.status === 200) {
      check(answer?.result, `${where}: no result on the wire: ${JSON.stringify(e.messages)}`);
      check(answer.result.resultType === 'complete', `${where}: resultType ${answer.result.resultType}`);
      check(answer.result._meta?.[SERVER_INFO_KEY]?.name, `${where}: no _meta serverInfo`);
      if (['server/discover', 'tools/list', 'resources/list', 'prompts/list', 'resources/read'].includes(e.rpc)) {
        check(Number.isInteger(answer.result.ttlMs) && answer.result.ttlMs >= 0, `${where}: ttlMs ${answer.result.ttlMs}`);
        check(['public', 'private'].includes(answer.result.cacheScope), `${where}: cacheScope ${answer.result.cacheScope}`);
      }
    }
  }
  const discover = entries.filter((e) => e.rpc === 'server/discover');
  check(discover.length >= 2, `expected the connect-time and the explicit server/discover, saw ${discover.length}`);
  check(!entries.some((e) => e.rpc === 'initialize'), 'the pinned client sent initialize');
}

function checkLegacyWire(entries) {
  const init = entries.find((e) => e.rpc === 'initialize');
  check(init, 'the legacy client sent no initialize');
  check(init.status === 200, `legacy initialize answered ${init.status}`);
  for (const e of entries.filter((x) => x.id !== undefined && x.status === 200)) {
    const where = `legacy ${e.rpc} (#${e.id})`;
    check(e.bodyVersion === undefined, `${where}: carried a modern _meta envelope`);
    check(e.request['mcp-method'] === null, `${where}: sent Mcp-Method`);
    const answer = answerTo(e);
    check(answer?.result, `${where}: no result on the wire: ${JSON.stringify(e.messages)}`);
    check(!('resultType' in answer.result), `${where}: a legacy result carries resultType`);
    check(!('ttlMs' in answer.result), `${where}: a legacy result carries ttlMs`);
  }
}

// ---- main ---------------------------------------------------------------------------------------

async function run(url, profileName) {
  const profile = PROFILES[profileName];
  check(profile, `unknown profile ${profileName} (notes, conformance)`);
  const legacy = await legacyOpen(url);
  const modern = await modernRun(url, profile);
  const legacyReport = await legacyFinish(legacy, profile);

  const modernWire = await wireOf('modern');
  const legacyWire = await wireOf('legacy');
  checkModernWire(modernWire);
  checkLegacyWire(legacyWire);
  if (profile.deniedTool) {
    const refused = modernWire.find((e) => e.rpc === 'tools/call' && e.bodyName === profile.deniedTool);
    check(refused?.status === 403, `${profile.deniedTool}: HTTP ${refused?.status}`);
    check(
      /error="insufficient_scope"/.test(refused.response['www-authenticate'] ?? ''),
      `${profile.deniedTool}: WWW-Authenticate ${refused.response['www-authenticate']}`,
    );
  }
  return { ok: true, profile: profileName, ...modern, legacy: legacyReport, wire: wire.entries };
}

await runScript({
  main: () => run(url, opts.profile),
  timeoutMs: TIMEOUT_MS,
  log,
  evidence: () => ({ wire: wire.entries }),
  beforeFailure: () => wire.settled().catch(() => {}),
});

// The TypeScript SDK v2 client (`@modelcontextprotocol/client`) with a Client ID Metadata
// Document (`clientMetadataUrl`, SEP-991) against a server with the `notes` tools and OAuth (the
// quickstart): no dynamic registration. The SDK uses the document's URL as its `client_id` when
// the authorization server metadata says `client_id_metadata_document_supported: true`; the
// authorization server fetches the document itself.
//
// 1. fetch the document (over https with the test's CA, trusted through NODE_EXTRA_CA_CERTS) and
//    check it names its own URL, as a developer would before using it;
// 2. connect with no token: 401 → Protected Resource Metadata → authorization server metadata →
//    the document's URL as `client_id` (no `/register`) → authorization code + PKCE (headless,
//    oauth.mjs) → `finishAuth` → connect again;
// 3. `tools/list`; `list_notes`.
//
//   node cimd.mjs <mcp-url> --client-metadata-url URL [--redirect-uri URL]
//
// stdout: one JSON line `{"ok":true,"clientId":…,"document":…,"requests":[{method,url,status}],
// "steps":[…],"tools":[…],"listNotes":…}` (or `{"ok":false,"error":…}`); exit 0 / 1. `requests`
// holds every HTTP request the SDK made, to the MCP endpoint and to the authorization server.

import { parseArgs } from 'node:util';

import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

import { HeadlessOAuthProvider, jwtParts } from './oauth.mjs';
import { CheckFailed, check, runScript, stepRecorder } from './script.mjs';

const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'client-metadata-url': { type: 'string' },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1/e2e-callback' },
  },
});
const url = positionals[0];
const clientMetadataUrl = opts['client-metadata-url'];
if (!url || positionals.length !== 1 || !clientMetadataUrl) {
  console.error('usage: node cimd.mjs <mcp-url> --client-metadata-url URL [--redirect-uri URL]');
  process.exit(2);
}

const log = (...parts) => console.error('[cimd]', ...parts);
const { steps, step } = stepRecorder(log);
/** Every request the SDK made, in order. */
const requests = [];

/** `fetch`, recording each request. */
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const target = input instanceof Request ? input.url : String(input);
  requests.push({ method, url: target, status: response.status });
  log(`${method} ${target} -> ${response.status}`);
  return response;
}

/** The headless provider, with a Client ID Metadata Document instead of registration. */
class MetadataDocumentProvider extends HeadlessOAuthProvider {
  get clientMetadataUrl() {
    return clientMetadataUrl;
  }
}

async function run() {
  // 1. The document, as the world sees it.
  const fetched = await fetch(clientMetadataUrl);
  check(fetched.status === 200, `the document answered HTTP ${fetched.status}`);
  const document = await fetched.json();
  check(document.client_id === clientMetadataUrl, `the document names ${document.client_id}`);
  step('document', { client_id: document.client_id, client_name: document.client_name ?? null });

  // 2. No token: 401, then the authorization with the document's URL as client_id.
  const provider = new MetadataDocumentProvider(opts['redirect-uri'], { fetch: recordingFetch, step });
  const newTransport = () =>
    new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch });
  const newClient = () => new Client({ name: 'scopegate-e2e-cimd', version: '1.0.0' }, { capabilities: {} });
  let client = newClient();
  let transport = newTransport();
  try {
    await client.connect(transport);
    throw new CheckFailed('connect() succeeded without credentials: the server did not answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const clientId = provider.clientInformation()?.client_id;
  check(clientId === clientMetadataUrl, `the SDK used client_id ${clientId}, not the document's URL`);
  await transport.finishAuth(provider.takeResponse());
  await transport.close().catch(() => {});

  client = newClient();
  transport = newTransport();
  await client.connect(transport);
  step('connected', { protocolVersion: client.getNegotiatedProtocolVersion() });
  const token = (await provider.tokens())?.access_token;
  const claims = jwtParts(token ?? '')?.payload ?? {};

  // 3. The tools, with the token.
  const tools = (await client.listTools()).tools.map((t) => t.name);
  const listed = await client.callTool({ name: 'list_notes', arguments: {} });
  check(!listed.isError, `list_notes failed: ${JSON.stringify(listed.content)}`);
  step('call list_notes', { isError: listed.isError ?? false });
  await transport.close().catch(() => {});
  return {
    ok: true,
    clientId,
    tokenClientId: claims.client_id ?? null,
    tokenScope: claims.scope ?? null,
    document,
    requests,
    steps,
    tools,
    listNotes: listed.structuredContent ?? listed.content,
  };
}

await runScript({ main: run, timeoutMs: TIMEOUT_MS, log, evidence: () => ({ steps, requests }) });

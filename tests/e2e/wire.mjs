// The wire as a client's `fetch` sees it: every exchange with the MCP endpoint, recorded for a
// script's summary so the Rust test can assert on what really crossed (headers, JSON-RPC
// methods, the 2026-07-28 `_meta` envelope, input-request fields, the answers).
//
// An entry: `{ era, http, rpc, id, bodyVersion, bodyName, taskId, extensions, requestState,
// inputResponses, request: {headers…, authorization, bearer}, status, response: {headers…},
// messages: [JSON-RPC messages] }`. `extensions` names the extensions the request's `_meta`
// declares among the client's capabilities (2026-07-28); `request.bearer` is the fingerprint of
// the bearer token sent (oauth.mjs).

import { tokenFingerprint } from './oauth.mjs';

const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

/** The JSON-RPC messages of a response body: one JSON object, or the `data:` of SSE events. */
export function rpcMessages(contentType, text) {
  if (!text) return [];
  if (contentType.startsWith('text/event-stream')) {
    const messages = [];
    for (const event of text.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) {
        try {
          messages.push(JSON.parse(data));
        } catch {
          messages.push({ unparsed: data });
        }
      }
    }
    return messages;
  }
  try {
    return [JSON.parse(text)];
  } catch {
    return [{ unparsed: text }];
  }
}

/** The response (result or error) to an entry's request, from its recorded messages. */
export function answerTo(entry) {
  return (entry.messages ?? []).find((m) => m.id === entry.id && ('result' in m || 'error' in m));
}

/** The fingerprint of the token of an `Authorization: Bearer …` header, else null. */
function bearerFingerprint(authorization) {
  const match = /^Bearer (\S+)$/.exec(authorization ?? '');
  return match ? tokenFingerprint(match[1]) : null;
}

/** The URL a fetch was given, without its query. */
function bare(input) {
  const url = new URL(input instanceof Request ? input.url : String(input));
  return `${url.origin}${url.pathname}`;
}

/** Records the exchanges with one MCP endpoint. */
export class Wire {
  /** Every exchange with the endpoint, in order. */
  entries = [];
  /** Response bodies still being read (event streams end after the response). */
  #pending = [];
  #endpoint;
  #log;
  #timeoutMs;

  /**
   * `endpoint`: the MCP URL whose exchanges are recorded (every other request, e.g. the
   * authorization server's, passes through and is only logged); `log(...parts)` hears about
   * every request; each request not given a signal times out after `timeoutMs`.
   */
  constructor(endpoint, { log, timeoutMs }) {
    this.#endpoint = bare(endpoint);
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  /** A `fetch` that records each exchange with the endpoint under `era`, the response untouched. */
  fetch(era) {
    return async (input, init) => {
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      const signal = init?.signal ?? AbortSignal.timeout(this.#timeoutMs);
      if (bare(input) !== this.#endpoint) {
        const response = await fetch(input, { ...init, signal });
        const challenge = response.headers.get('www-authenticate');
        this.#log(`${era} ${method} ${input} -> ${response.status}${challenge ? ` (www-authenticate: ${challenge})` : ''}`);
        return response;
      }
      const entry = this.#request(era, method, input, init);
      this.entries.push(entry);
      const response = await fetch(input, { ...init, signal });
      this.#response(entry, response, method);
      return response;
    };
  }

  #request(era, method, input, init) {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    let body;
    try {
      body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    } catch {
      body = undefined;
    }
    return {
      era,
      http: method,
      rpc: body?.method,
      id: body?.id,
      bodyVersion: body?.params?._meta?.[VERSION_KEY],
      bodyName: body?.params?.name ?? body?.params?.uri,
      taskId: body?.params?.taskId,
      extensions: Object.keys(body?.params?._meta?.[CAPABILITIES_KEY]?.extensions ?? {}),
      requestState: body?.params?.requestState,
      inputResponses: body?.params?.inputResponses,
      request: {
        'mcp-protocol-version': headers.get('mcp-protocol-version'),
        'mcp-method': headers.get('mcp-method'),
        'mcp-name': headers.get('mcp-name'),
        'mcp-session-id': headers.get('mcp-session-id'),
        authorization: headers.has('authorization'),
        bearer: bearerFingerprint(headers.get('authorization')),
      },
    };
  }

  #response(entry, response, method) {
    const contentType = response.headers.get('content-type') ?? '';
    entry.status = response.status;
    entry.response = {
      'content-type': contentType,
      'mcp-session-id': response.headers.get('mcp-session-id'),
      'www-authenticate': response.headers.get('www-authenticate'),
    };
    const r = entry.request;
    this.#log(
      `${entry.era} ${method} ${entry.rpc ?? ''} [${r['mcp-protocol-version'] ?? '-'} ${r['mcp-method'] ?? '-'} ` +
        `${r['mcp-name'] ?? '-'}]${entry.requestState ? ' +requestState' : ''} -> ${response.status} ${contentType}` +
        (entry.response['mcp-session-id'] ? ` session ${entry.response['mcp-session-id']}` : '') +
        (entry.response['www-authenticate'] ? ` (www-authenticate: ${entry.response['www-authenticate']})` : ''),
    );
    // A GET is a legacy session's standalone stream, open until the session ends: its body is
    // not waited for.
    if (response.body && method !== 'GET') {
      this.#pending.push(
        response
          .clone()
          .text()
          .then((text) => {
            entry.messages = rpcMessages(contentType, text);
          })
          .catch((error) => {
            entry.bodyError = String(error);
          }),
      );
    }
  }

  /** The entries, every response body read. */
  async settled() {
    await Promise.all(this.#pending);
    return this.entries;
  }
}

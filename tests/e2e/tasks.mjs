// The tasks extension of 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663) for the TypeScript
// SDK v2 client, through `@modelcontextprotocol/ext-tasks` (its requester side).
//
// How the two plug together: ext-tasks wraps a connected `Client` (`createTaskSessionFromClient`).
// SDK v2 2.4 itself refuses a `tools/call` result of `resultType: "task"` (an unsupported result
// type) and has no `tasks/*` requests, so on a 2026-07-28 server ext-tasks does not send those
// through the client: it frames them (the `_meta` envelope, the tasks extension declared in the
// client capabilities) and hands them to the host's request coordinator, `rawDispatch`, with the
// framing values the client was set up with (`v2RequestFraming`). `RawRequests` is that
// coordinator: it sends each request through the client's own transport, so the request carries
// what the SDK puts on every request (the OAuth token, the `MCP-Protocol-Version`, `Mcp-Method`
// and `Mcp-Name` headers derived from the body: `params.taskId` for `tasks/*`) and the SDK's
// answer to a 401 or 403 (a 403 `insufficient_scope` re-authorizes, and the request fails with
// `UnauthorizedError` for the host to `finishAuth` and send again), and matches each answer to
// its request by id.

import { createTaskSessionFromClient } from '@modelcontextprotocol/ext-tasks/client';

/** The requests a coordinator sends carry ids of their own, never the client's (numbers). */
const ID_PREFIX = 'ext-tasks-';

/** Sends ext-tasks' raw requests through a connected client's transport; answers by id. */
export class RawRequests {
  #transport;
  #next = 0;
  /** Requests sent and not answered yet, by id. */
  #waiting = new Map();

  /** `transport`: the transport of a connected `Client` (which has set its `onmessage`). */
  constructor(transport) {
    this.#transport = transport;
    const forward = transport.onmessage;
    // Answers to our requests stop here; everything else goes on to the client.
    transport.onmessage = (message, extra) => {
      const waiter = this.#waiting.get(message?.id);
      if (waiter && ('result' in message || 'error' in message)) {
        this.#waiting.delete(message.id);
        waiter.resolve(message);
        return;
      }
      forward?.(message, extra);
    };
  }

  /** ext-tasks' `rawDispatch`: one request (no id yet), its JSON-RPC answer as a `JsonRpcResponse`. */
  dispatch = async (request, options = {}) => {
    const id = `${ID_PREFIX}${++this.#next}`;
    const answered = new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
    });
    // Refused while the request is still being sent, it is the send's error that is reported.
    answered.catch(() => {});
    const unanswered = (why) => {
      const waiter = this.#waiting.get(id);
      if (!waiter) return;
      this.#waiting.delete(id);
      waiter.reject(new Error(`${request.method} (${id}): ${why}`));
    };
    const onAbort = () => unanswered(`aborted: ${options.signal.reason}`);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.#transport.send(
        { ...request, jsonrpc: '2.0', id },
        {
          requestSignal: options.signal,
          headers: options.context?.headers,
          // An event stream that ends before the answer would leave the request waiting.
          onRequestStreamEnd: () => unanswered('the response stream ended without an answer'),
        },
      );
      // A JSON response has been handed to `onmessage` by now; an event stream goes on.
      const message = await answered;
      return 'error' in message ? { kind: 'error', error: message.error } : { kind: 'result', result: message.result };
    } catch (error) {
      this.#waiting.delete(id);
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  };
}

/**
 * A task-enabled session over a connected 2026-07-28 `client` and its `transport`: the client's
 * info and capabilities as it was created with (ext-tasks adds the tasks extension to them);
 * `onInputRequest(request, context)` answers what a task asks (`tasks/update`) or a request
 * asks (`input_required`), as `{kind, params}` → the result.
 */
export function taskSession(client, transport, { endpointId, protocolVersion, clientInfo, clientCapabilities, onInputRequest }) {
  const raw = new RawRequests(transport);
  return createTaskSessionFromClient(client, {
    endpointId,
    rawDispatch: raw.dispatch,
    v2RequestFraming: { protocolVersion, clientInfo, clientCapabilities },
    onInputRequest,
  });
}

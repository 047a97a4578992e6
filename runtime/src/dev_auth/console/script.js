
'use strict';
// The development console's script: mints a token through the server's own OAuth endpoints
// (registration, the consent page, the token endpoint), decodes it, and calls tools with it.
(() => {
  const data = JSON.parse(document.getElementById('console-data').textContent);
  const $ = (id) => document.getElementById(id);
  const base = location.origin + data.path;
  const redirectUri = base + '/console';
  const VERSION = '2026-07-28';
  // The client this page registered, per server run (the key pair's id changes at each start)
  // and per origin (the redirect URI names it).
  const clientKey = 'scopegate-console-client:' + data.instance + ':' + location.origin;
  const pendingKey = 'scopegate-console-pending';
  const tokenKey = 'scopegate-console-token:' + data.instance;
  // A client that never completed an authorization is forgotten after 10 minutes.
  const UNAUTHORIZED_CLIENT_MS = 9 * 60 * 1000;

  const status = (text, error) => {
    const el = $('mint-status');
    el.textContent = text;
    el.classList.toggle('error', Boolean(error));
  };

  const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const randomString = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
  const decodePart = (part) => {
    const padded = part.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(padded + '='.repeat((4 - padded.length % 4) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  };

  async function client() {
    const known = JSON.parse(localStorage.getItem(clientKey) || 'null');
    if (known && (known.authorized || Date.now() - known.at < UNAUTHORIZED_CLIENT_MS)) {
      return known.id;
    }
    const response = await fetch(base + '/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'scopegate development console',
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      }),
    });
    const body = await response.json();
    if (!response.ok) {
      throw new Error('registration refused: ' + (body.error_description || response.status));
    }
    localStorage.setItem(clientKey, JSON.stringify({ id: body.client_id, at: Date.now(), authorized: false }));
    return body.client_id;
  }

  async function mint(event) {
    event.preventDefault();
    const scopes = [...document.querySelectorAll('input[name=scope]:checked')].map((i) => i.value);
    try {
      status('Registering the console as a client…');
      const clientId = await client();
      const verifier = randomString(32);
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
      const state = randomString(16);
      sessionStorage.setItem(pendingKey, JSON.stringify({ state, verifier, clientId }));
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
        code_challenge: b64url(new Uint8Array(digest)),
        code_challenge_method: 'S256',
        resource: data.resource,
      });
      if (scopes.length) query.set('scope', scopes.join(' '));
      status('Opening the consent page…');
      location.assign(base + '/authorize?' + query);
    } catch (e) {
      status(String(e.message || e), true);
    }
  }

  // Back from the consent page: the code (or the refusal) is in the query.
  async function callback() {
    const params = new URLSearchParams(location.search);
    if (!params.has('code') && !params.has('error')) return;
    // The code must not stay in the address bar or the history.
    history.replaceState(null, '', location.pathname);
    const pending = JSON.parse(sessionStorage.getItem(pendingKey) || 'null');
    sessionStorage.removeItem(pendingKey);
    if (!pending || params.get('state') !== pending.state) {
      status('Ignored an authorization response this page did not ask for (state differs).', true);
      return;
    }
    if (params.get('iss') !== data.issuer) {
      status('The authorization response names another issuer: ' + params.get('iss'), true);
      return;
    }
    if (params.has('error')) {
      status(params.get('error') + ': ' + (params.get('error_description') || ''), true);
      return;
    }
    status('Redeeming the authorization code…');
    const response = await fetch(base + '/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: redirectUri,
        code_verifier: pending.verifier,
        client_id: pending.clientId,
        resource: data.resource,
      }),
    });
    const body = await response.json();
    if (!response.ok) {
      status('token endpoint: ' + body.error + ': ' + (body.error_description || ''), true);
      return;
    }
    const known = JSON.parse(localStorage.getItem(clientKey) || 'null');
    if (known && known.id === pending.clientId) {
      localStorage.setItem(clientKey, JSON.stringify({ ...known, authorized: true }));
    }
    sessionStorage.setItem(tokenKey, body.access_token);
    status('Minted a token for ' + (body.scope || 'no scope') + '.');
  }

  const token = () => sessionStorage.getItem(tokenKey);

  function showToken() {
    const raw = token();
    $('token').hidden = !raw;
    $('token-empty').hidden = Boolean(raw);
    if (!raw) return;
    const [header, claims] = raw.split('.').slice(0, 2).map(decodePart);
    $('token-header').textContent = JSON.stringify(header, null, 2);
    $('token-claims').textContent = JSON.stringify(claims, null, 2);
    $('token-raw').textContent = raw;
    $('token-scope').textContent = claims.scope || '(no scope)';
    // The form starts from what the token holds: a step-up adds to it.
    const held = (claims.scope || '').split(' ');
    for (const box of document.querySelectorAll('input[name=scope]')) box.checked = held.includes(box.value);
    const left = Math.round(claims.exp - Date.now() / 1000);
    $('token-expiry').textContent = left > 0
      ? 'expires at ' + new Date(claims.exp * 1000).toLocaleTimeString() + ' (in ' + left + ' s)'
      : 'expired: mint another';
  }

  function requestBody(name, args) {
    return {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name,
        arguments: args,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'scopegate-console', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    };
  }

  function requestHeaders(name) {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': VERSION,
      'mcp-method': 'tools/call',
      'mcp-name': name,
    };
    if (token()) headers.authorization = 'Bearer ' + token();
    return headers;
  }

  const shell = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

  function parseArgs() {
    const text = $('args').value.trim() || '{}';
    return JSON.parse(text);
  }

  function showCurl() {
    const name = $('tool').value;
    let args;
    try { args = parseArgs(); } catch { args = {}; }
    const headers = Object.entries(requestHeaders(name))
      .map(([k, v]) => ' -H ' + shell(k + ': ' + v)).join('');
    $('curl').textContent = 'curl -si ' + shell(data.resource) + headers
      + ' -d ' + shell(JSON.stringify(requestBody(name, args)));
  }

  function showToolScopes() {
    const tool = data.tools.find((t) => t.name === $('tool').value);
    if (!tool) return;
    const needs = tool.public ? 'no scope (public)'
      : [tool.scopes.join(' + '), tool.any_scopes.length ? 'one of ' + tool.any_scopes.join(', ') : '']
        .filter(Boolean).join('; ');
    $('tool-scopes').textContent = 'needs ' + needs + (tool.read_only ? ' · read-only' : '');
  }

  // The last JSON-RPC message of an event stream, or the JSON body.
  function parseAnswer(type, text) {
    if (type.startsWith('text/event-stream')) {
      const messages = text.split(/\r?\n\r?\n/)
        .map((event) => event.split(/\r?\n/).filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart()).join('\n'))
        .filter(Boolean);
      text = messages[messages.length - 1] || '';
    }
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
  }

  async function call(event) {
    event.preventDefault();
    const name = $('tool').value;
    let args;
    try {
      args = parseArgs();
    } catch (e) {
      $('answer').hidden = false;
      $('call-status').textContent = 'arguments are not JSON';
      $('call-status').className = 'pill bad';
      $('call-body').textContent = String(e.message || e);
      $('challenge-box').hidden = true;
      return;
    }
    const response = await fetch(data.resource, {
      method: 'POST',
      headers: requestHeaders(name),
      body: JSON.stringify(requestBody(name, args)),
    });
    const text = await response.text();
    const challenge = response.headers.get('www-authenticate');
    $('answer').hidden = false;
    $('call-status').textContent = response.status + ' ' + response.statusText;
    $('call-status').className = 'pill ' + (response.ok ? 'ok' : 'bad');
    $('challenge-box').hidden = !challenge;
    $('call-challenge').textContent = challenge || '';
    $('call-body').textContent = parseAnswer(response.headers.get('content-type') || '', text);
    $('answer').dataset.status = String(response.status);
  }

  for (const tool of data.tools) {
    const option = document.createElement('option');
    option.value = tool.name;
    option.textContent = tool.name;
    $('tool').append(option);
  }
  for (const button of document.querySelectorAll('button.copy')) {
    button.addEventListener('click', async () => {
      await navigator.clipboard.writeText($(button.dataset.copy).textContent);
      button.textContent = 'copied';
      setTimeout(() => { button.textContent = 'copy'; }, 1200);
    });
  }
  $('mint-form').addEventListener('submit', mint);
  $('call-form').addEventListener('submit', call);
  $('tool').addEventListener('change', () => { showToolScopes(); showCurl(); });
  $('args').addEventListener('input', showCurl);
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(tokenKey);
    showToken();
    showCurl();
  });
  callback()
    .catch((e) => status(String(e.message || e), true))
    .finally(() => {
      showToken();
      showToolScopes();
      showCurl();
      document.body.dataset.ready = 'true';
    });
})();

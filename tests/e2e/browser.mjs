// The browser test's driver: headless Chromium runs `browser/page.mjs` (the TypeScript SDK v2
// client in a page) against an MCP server, and nothing in the browser may go wrong: no CORS error,
// no failed request, no uncaught error, in the page or in the authorization popup.
//
//   node browser.mjs <mcp-url> [--approve click|none]
//
// 1. Bundles `browser/page.mjs` with esbuild (for the browser, in memory).
// 2. Serves it with `browser/index.html` and `browser/callback.html` (the redirect URI) on
//    127.0.0.1 on a port of its own: another origin than the MCP server's, so every request the
//    client makes, discovery included, is a cross-origin request that CORS governs.
// 3. Starts Chromium (`$SCOPEGATE_E2E_CHROMIUM`, else /usr/bin/chromium) headless through
//    puppeteer-core, with a new empty profile, opens the page, and in each authorization popup
//    clicks Approve on the consent page (`--approve click`, the default; `none` when the
//    authorization server approves by itself, as the quick start's `--auto-approve` does).
// 4. Waits for the page's result, and records every console message, page error and failed
//    request of every page.
//
// stdout: one JSON line `{"ok":true,"origin":…,"steps":[…],"exchanges":[…],"console":[…],
// "problems":[…],"consents":N}`; `ok` is false if the page failed or any problem was seen.
// Expected denials (the 401 and the 403 the flow is made of) are logged by Chromium as
// "Failed to load resource" errors: those are kept in `console` and are no problem when the
// page's own record shows that exchange with that status.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';

import { CheckFailed, check, runScript } from './script.mjs';

const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 75_000);
const PAGE_TIMEOUT_MS = TIMEOUT_MS - 10_000;

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    approve: { type: 'string', default: 'click' },
  },
});

const log = (...parts) => console.error('[browser]', ...parts);

/** Every console message, page error and failed request, from every page. */
const consoleMessages = [];
const pageErrors = [];
const failedRequests = [];
let pageResult;
let appOrigin;
let consents = 0;
let browser;
let server;
let profile;

// ---- the page's origin: a static server ---------------------------------------------------------

async function bundle() {
  const result = await build({
    entryPoints: [new URL('./browser/page.mjs', import.meta.url).pathname],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

async function serveStatic(pageScript) {
  const files = {
    '/': ['text/html', readFileSync(new URL('./browser/index.html', import.meta.url))],
    '/page.js': ['text/javascript', pageScript],
    '/callback.html': ['text/html', readFileSync(new URL('./browser/callback.html', import.meta.url))],
  };
  server = createServer((request, response) => {
    const { pathname } = new URL(request.url, 'http://127.0.0.1');
    log(`static ${request.method} ${request.url}`);
    const file = files[pathname];
    if (request.method !== 'GET' || !file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

// ---- the browser --------------------------------------------------------------------------------

/** Records what `page` (named `name`) logs, throws and fails to load. */
function watch(page, name) {
  page.on('console', (message) => {
    const entry = { page: name, type: message.type(), text: message.text(), url: message.location()?.url ?? null };
    consoleMessages.push(entry);
    log(`console ${name} ${entry.type}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
  });
  page.on('pageerror', (error) => {
    pageErrors.push({ page: name, error: String(error?.message ?? error) });
    log(`pageerror ${name}: ${error?.message ?? error}`);
  });
  page.on('requestfailed', (request) => {
    const entry = { page: name, method: request.method(), url: request.url(), error: request.failure()?.errorText ?? null };
    failedRequests.push(entry);
    log(`requestfailed ${name} ${entry.method} ${entry.url}: ${entry.error}`);
  });
}

/** An authorization popup: watched, and (with `--approve click`) its consent approved. */
async function onPopup(target) {
  // Only windows a page opened: the app page itself is watched where it is made.
  if (target.type() !== 'page' || !target.opener()) return;
  const page = await target.page();
  if (!page) return;
  watch(page, 'popup');
  if (opts.approve !== 'click') return;
  try {
    const approve = await page.waitForSelector('button[name="decision"][value="approve"]', { timeout: 15_000 });
    check(!page.url().startsWith(appOrigin), 'the consent page is on the app origin');
    consents += 1;
    log(`approving on ${page.url().split('?')[0]}`);
    await approve.click();
  } catch (error) {
    // The popup closed on its own (or never showed a consent page): the page's result says
    // whether the flow went on.
    log(`no consent clicked in a popup: ${error?.message ?? error}`);
  }
}

async function main() {
  const mcpUrl = positionals[0];
  check(mcpUrl, 'usage: node browser.mjs <mcp-url> [--approve click|none]');
  appOrigin = await serveStatic(await bundle());
  check(new URL(mcpUrl).origin !== appOrigin, 'the page must be served from another origin');
  log(`page origin ${appOrigin}`);

  profile = mkdtempSync(join(tmpdir(), 'scopegate-chromium-'));
  browser = await puppeteer.launch({
    executablePath: process.env.SCOPEGATE_E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-popup-blocking', // the step-up opens its popup long after the last click
    ],
    protocolTimeout: PAGE_TIMEOUT_MS,
  });
  log(`chromium ${await browser.version()}`);
  browser.on('targetcreated', (target) => {
    onPopup(target).catch((error) => log(`popup: ${error}`));
  });

  const page = await browser.newPage();
  watch(page, 'app');
  const pageUrl = `${appOrigin}/?${new URLSearchParams({ mcp: mcpUrl })}`;
  await page.goto(pageUrl, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__scopegateResult !== undefined, { timeout: PAGE_TIMEOUT_MS, polling: 100 });
  pageResult = await page.evaluate(() => window.__scopegateResult);
  await closeAll();

  const problems = findProblems(pageResult.exchanges ?? []);
  const summary = { ok: pageResult.ok && problems.length === 0, ...evidence() };
  if (!pageResult.ok) throw new CheckFailed(`the page failed: ${pageResult.error}`);
  if (problems.length) throw new CheckFailed(`problems in the browser: ${JSON.stringify(problems)}`);
  return summary;
}

/**
 * What went wrong besides the page's own checks: any console message about CORS, any page error,
 * any failed request, any console error other than an expected denial.
 */
function findProblems(exchanges) {
  const problems = [];
  for (const message of consoleMessages) {
    if (/CORS|Access-Control|cross-origin/i.test(message.text)) {
      problems.push({ kind: 'cors', ...message });
      continue;
    }
    if (message.type !== 'error') continue;
    const status = /Failed to load resource: the server responded with a status of (\d+)/.exec(message.text)?.[1];
    const expected =
      status !== undefined &&
      exchanges.some((e) => e.url === message.url && String(e.status) === status && (status === '401' || status === '403'));
    // Chromium asks every origin it shows for /favicon.ico by itself (the consent page names
    // no icon): no request of the client's.
    const favicon = status === '404' && message.url !== null && new URL(message.url).pathname === '/favicon.ico';
    // The page's own report of its failure is already the page's result.
    if (!expected && !favicon && !message.text.startsWith('failed: ')) {
      problems.push({ kind: 'console error', ...message });
    }
  }
  for (const error of pageErrors) problems.push({ kind: 'page error', ...error });
  for (const request of failedRequests) {
    // The client aborts what it no longer reads (the body of a 401 it answers by authorizing,
    // its GET stream when it closes): no failure when the page's record shows that request
    // answered. A request CORS refuses fails with net::ERR_FAILED and no answer.
    const answered = exchanges.some((e) => e.method === request.method && e.url === request.url && e.status !== null);
    if (!(request.error === 'net::ERR_ABORTED' && answered)) problems.push({ kind: 'failed request', ...request });
  }
  for (const exchange of exchanges) {
    if (exchange.status === null) problems.push({ kind: 'fetch rejected', ...exchange });
  }
  return problems;
}

function evidence() {
  return {
    origin: appOrigin ?? null,
    consents,
    steps: pageResult?.steps ?? [],
    exchanges: pageResult?.exchanges ?? [],
    console: consoleMessages,
    problems: findProblems(pageResult?.exchanges ?? []),
  };
}

async function closeAll() {
  await browser?.close().catch(() => {});
  browser = undefined;
  server?.close();
  server = undefined;
  if (profile) rmSync(profile, { recursive: true, force: true });
  profile = undefined;
}

await runScript({ main, timeoutMs: TIMEOUT_MS, log, evidence, beforeFailure: closeAll });

// The development console's driver: headless Chromium opens `/dev-auth/console`, mints a token
// for one scope through the consent page (Approve clicked), then calls one tool the token
// allows and one it does not, and reports what the page showed.
//
//   node console.mjs <console-url> [--scope notes:read] [--allowed list_notes]
//                    [--forbidden add_note] [--forbidden-args JSON] [--screenshot PATH]
//
// stdout: one JSON line `{"ok":true,"scopes":[…],"tools":[…],"consent":{…},"token":{…},
// "calls":[…],"console":[…],"page_errors":[…]}`; the Rust test asserts on it. `ok` is false
// only when the page could not be driven to the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import puppeteer from 'puppeteer-core';

import { check, runScript } from './script.mjs';

const TIMEOUT_MS = Number(process.env.E2E_CLIENT_TIMEOUT_MS ?? 60_000);
const STEP_MS = 20_000;

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scope: { type: 'string', default: 'notes:read' },
    allowed: { type: 'string', default: 'list_notes' },
    forbidden: { type: 'string', default: 'add_note' },
    'forbidden-args': { type: 'string', default: '{"title":"from the console"}' },
    screenshot: { type: 'string' },
  },
});

const log = (...parts) => console.error('[console]', ...parts);

const consoleMessages = [];
const pageErrors = [];
const result = { scopes: [], tools: [], consent: null, token: null, calls: [] };
let browser;
let profile;

async function call(page, tool, args) {
  await page.select('#tool', tool);
  await page.$eval('#args', (el, value) => { el.value = value; el.dispatchEvent(new Event('input')); }, args);
  await page.$eval('#answer', (el) => { delete el.dataset.status; });
  await page.click('#call');
  await page.waitForSelector('#answer[data-status]', { timeout: STEP_MS });
  const shown = await page.evaluate(() => ({
    status: Number(document.getElementById('answer').dataset.status),
    status_text: document.getElementById('call-status').textContent,
    challenge_shown: !document.getElementById('challenge-box').hidden,
    challenge: document.getElementById('call-challenge').textContent,
    body: document.getElementById('call-body').textContent,
    curl: document.getElementById('curl').textContent,
  }));
  log(`call ${tool}: ${shown.status}`);
  return { tool, ...shown };
}

async function main() {
  const url = positionals[0];
  check(url, 'usage: node console.mjs <console-url>');
  profile = mkdtempSync(join(tmpdir(), 'scopegate-console-'));
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
    ],
    protocolTimeout: TIMEOUT_MS,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('console', (m) => consoleMessages.push({ type: m.type(), text: m.text(), url: m.location()?.url ?? null }));
  page.on('pageerror', (e) => pageErrors.push({ message: e.message }));

  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready]', { timeout: STEP_MS });
  result.scopes = await page.$$eval('#scopes tbody tr', (rows) => rows.map((r) => ({
    scope: r.dataset.scope,
    cells: [...r.querySelectorAll('td')].map((td) => [...td.querySelectorAll('code')].map((c) => c.textContent)),
  })));
  result.tools = await page.$$eval('#tool option', (options) => options.map((o) => o.value));
  result.token_before = await page.$eval('#token', (el) => !el.hidden);

  // Mint: the scope chosen, the consent page approved.
  await page.click(`input[name=scope][value="${opts.scope}"]`);
  await Promise.all([page.waitForNavigation({ timeout: STEP_MS }), page.click('#mint')]);
  result.consent = await page.evaluate(() => ({
    url: location.href,
    title: document.title,
    scopes: [...document.querySelectorAll('td code')].map((c) => c.textContent),
  }));
  log(`consent page ${result.consent.url}`);
  await Promise.all([
    page.waitForNavigation({ timeout: STEP_MS }),
    page.click('button[name=decision][value=approve]'),
  ]);
  await page.waitForSelector('body[data-ready]', { timeout: STEP_MS });
  await page.waitForFunction(
    () => !document.getElementById('token').hidden || document.getElementById('mint-status').classList.contains('error'),
    { timeout: STEP_MS, polling: 100 },
  );
  result.token = await page.evaluate(() => ({
    shown: !document.getElementById('token').hidden,
    status: document.getElementById('mint-status').textContent,
    location: location.href,
    header: document.getElementById('token-header').textContent,
    claims: document.getElementById('token-claims').textContent,
    raw: document.getElementById('token-raw').textContent,
    scope: document.getElementById('token-scope').textContent,
  }));
  check(result.token.shown, `no token shown: ${result.token.status}`);

  result.calls.push(await call(page, opts.allowed, '{}'));
  result.calls.push(await call(page, opts.forbidden, opts['forbidden-args']));

  if (opts.screenshot) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    log(`screenshot ${opts.screenshot}`);
  }
  await closeAll();
  return { ok: true, ...evidence() };
}

function evidence() {
  return { ...result, console: consoleMessages, page_errors: pageErrors };
}

async function closeAll() {
  await browser?.close().catch(() => {});
  browser = undefined;
  if (profile) rmSync(profile, { recursive: true, force: true });
  profile = undefined;
}

await runScript({ main, timeoutMs: TIMEOUT_MS, log, evidence, beforeFailure: closeAll });

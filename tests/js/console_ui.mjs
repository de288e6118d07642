// The operator's web console (`/ui`) in headless Chromium, driven by
// playwright-core, for test_console_ui.py.
//
//   node console_ui.mjs HERALD_HTTP_URL ADMIN_TOKEN NODE JOBS_NODE DEAD_ITEM LIVE_IDS [TIMEOUT_MS]
//
// LIVE_IDS: comma-separated item ids the Python side publishes to NODE
// once this script says `tail_open`; the page's live tail must show them.
// The page is Herald's own `/ui` (no route fakes); the token is typed in
// like an operator would.
//
// stdout: one JSON line per step, {"step": ..., ...}; the last one is
// {"step": "done", "ok": bool, "reason"}. Exit 0 when every step passed.
// With HERALD_SCREENSHOT_DIR set, saves overview.png, nodes.png, node.png
// and groups.png there.
import { chromium } from 'playwright-core';
import path from 'node:path';

const [baseUrl, token, node, jobsNode, deadItem, liveArg, timeoutArg] = process.argv.slice(2);
if (!baseUrl || !token || !node || !jobsNode || !deadItem || !liveArg) {
  process.stderr.write('usage: console_ui.mjs URL TOKEN NODE JOBS_NODE DEAD_ITEM LIVE_IDS [TIMEOUT_MS]\n');
  process.exit(1);
}
const liveIds = liveArg.split(',');
const timeout = Number(timeoutArg || 20000);
const shots = process.env.HERALD_SCREENSHOT_DIR;
const emit = (o) => process.stdout.write(JSON.stringify({ t: Date.now() / 1000, ...o }) + '\n');
const tid = (id) => `[data-testid="${id}"]`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', `--explicitly-allowed-ports=${new URL(baseUrl).port}`],
});
let code = 1;
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const pageErrors = [];
  page.on('pageerror', (e) => { pageErrors.push(String(e)); process.stderr.write(`[page error] ${e}\n`); });
  page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
  // Every request the page makes: only Herald's origin.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(baseUrl)) foreign.push(r.url()); });
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`) });
  };

  const res = await page.goto(`${baseUrl}/ui`);
  const h = res.headers();
  emit({ step: 'page', status: res.status(), content_type: h['content-type'] ?? null,
         csp: h['content-security-policy'] ?? null, cache_control: h['cache-control'] ?? null });
  await page.waitForSelector(tid('login-view'), { state: 'visible' });

  // A wrong token: an error on the login form, no data.
  await page.fill(tid('token-input'), 'not-the-right-token-0123456');
  await page.click(tid('login-button'));
  await page.waitForSelector(`${tid('login-error')}:not(.hidden)`);
  emit({ step: 'wrong_token', error: (await page.textContent(tid('login-error'))).trim(),
         app_visible: await page.isVisible(tid('app')),
         stored: await page.evaluate(() => sessionStorage.length) });

  // The right one.
  await page.fill(tid('token-input'), token);
  await page.click(tid('login-button'));
  await page.waitForSelector(`${tid('view-overview')}:not(.hidden)`);
  await page.waitForFunction(() => document.getElementById('status-link').dataset.up === 'true');
  // A few polls, so the chart has lines.
  await page.waitForFunction(() => Number(document.getElementById('rate-chart').dataset.samples || 0) >= 3,
    null, { timeout: 15000 });
  emit({ step: 'overview', link: (await page.textContent(tid('status-link'))).trim(),
         http: Number(await page.textContent(tid('status-publishes-http'))),
         xmpp: Number(await page.textContent(tid('status-publishes-xmpp'))),
         notifications: Number(await page.textContent(tid('status-notifications'))),
         session: await page.evaluate(() => sessionStorage.getItem('herald.token')),
         local: await page.evaluate(() => localStorage.length),
         webhooks_nav: await page.isVisible(tid('nav-webhooks')),
         operations: await page.$$eval(`${tid('operations-table')} tbody tr`, (r) => r.map((x) => x.textContent)) });
  await shot('overview');

  // Nodes: the XMPP-made node is listed; the search box filters.
  await page.click(tid('nav-nodes'));
  await page.waitForSelector(`${tid('node-row')}[data-node="${node}"]`);
  const all = await page.$$eval(tid('node-row'), (rows) => rows.map((r) => r.dataset.node));
  await shot('nodes');
  await page.fill(tid('node-search'), node);
  const filtered = await page.$$eval(tid('node-row'), (rows) => rows.map((r) => r.dataset.node));
  emit({ step: 'nodes', all, filtered });

  // Node view and its live tail.
  await page.click(`${tid('node-row')}[data-node="${node}"]`);
  await page.waitForSelector(`${tid('view-node')}:not(.hidden)`);
  await page.waitForFunction((n) => document.getElementById('node-name').textContent === n, node);
  await page.waitForSelector(`${tid('tail-status')}[data-state="open"]`);
  await page.waitForSelector(`${tid('config-row')}`);
  emit({ step: 'tail_open', hash: await page.evaluate(() => location.hash) });
  for (const id of liveIds) await page.waitForSelector(`${tid('tail-item')}[data-item-id="${id}"]`);
  const tail = await page.$$eval(tid('tail-item'), (li) => li.map((l) => ({ id: l.dataset.itemId, event: l.dataset.event, text: l.textContent })));
  emit({ step: 'tail', items: tail,
         subscribers: await page.$$eval(tid('subscriber-row'), (r) => r.map((x) => x.textContent)),
         config: await page.$$eval(tid('config-row'), (r) => r.map((x) => x.dataset.var)) });
  await shot('node');

  // Groups: the dead letter, resent with its button.
  await page.click(tid('nav-groups'));
  const dead = `${tid('dead-letter')}[data-node="${jobsNode}"][data-item-id="${deadItem}"]`;
  await page.waitForSelector(dead);
  const groups = await page.$$eval(tid('group-row'), (r) => r.map((x) => ({ node: x.dataset.node, group: x.dataset.group,
    members: x.querySelectorAll('[data-testid="group-member"]').length })));
  emit({ step: 'groups', groups });
  await shot('groups');
  await page.click(`${dead} ${tid('resend')}`);
  await page.waitForSelector(dead, { state: 'detached' });
  await page.waitForSelector(tid('no-dead-letters'));
  emit({ step: 'resent', error_visible: await page.isVisible(tid('error')) });

  // Webhooks (the token has the scope): none made, the table says so.
  await page.click(tid('nav-webhooks'));
  await page.waitForSelector(`${tid('view-webhooks')}:not(.hidden) tbody tr td`);
  emit({ step: 'webhooks', rows: await page.$$eval(`${tid('webhooks-table')} tbody tr`, (r) => r.map((x) => x.textContent.trim())) });

  emit({ step: 'checks', page_errors: pageErrors, foreign_requests: foreign });
  emit({ step: 'done', ok: pageErrors.length === 0 && foreign.length === 0, reason: 'all steps' });
  code = pageErrors.length === 0 && foreign.length === 0 ? 0 : 4;
} catch (e) {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  emit({ step: 'done', ok: false, reason: String(e) });
  code = 1;
} finally {
  await browser.close().catch(() => {});
}
process.exit(code);

// Herald's SSE endpoint through a real browser EventSource (headless
// Chromium, driven by playwright-core), for test_sse_browser.py.
//
//   node sse_eventsource.mjs HERALD_HTTP_URL NODE READ_TOKEN COUNT [TIMEOUT_MS]
//
// EventSource cannot send headers, so the browser context adds
// `Authorization: Bearer READ_TOKEN` to every request (extraHTTPHeaders,
// which also covers EventSource requests and its reconnections). The page
// is a fake URL on Herald's own origin, fulfilled by page.route, so the
// EventSource is same-origin and no CORS is involved.
//
// stdout: one JSON line per thing seen, in order:
//   {"event": "item" | "retract" | "reset" | "message", "id", "data"}  an SSE event
//   {"event": "_open"} / {"event": "_error", "readyState"}            EventSource state
//   {"event": "_request", "last_event_id", "authorized", "cache_control"}
//   {"event": "_response", "status", "content_type"}
//                           each (re)connection to the endpoint, as on the wire
//   {"event": "_done", "ok": bool, "reason"}                           last line
// Every line also has "t", the time it was written (Unix seconds).
// Exit 0 once COUNT SSE events came (after LINGER_MS more, so that an extra
// or duplicate event would show); 2 on timeout; 3 if the EventSource gave
// up (readyState CLOSED); 1 on any other failure.
import { chromium } from 'playwright-core';

const [baseUrl, node, token, countArg, timeoutArg] = process.argv.slice(2);
if (!baseUrl || !node || !token || !countArg) {
  process.stderr.write('usage: sse_eventsource.mjs URL NODE TOKEN COUNT [TIMEOUT_MS]\n');
  process.exit(1);
}
const count = Number(countArg);
const timeoutMs = Number(timeoutArg || 30000);
const emit = (o) => process.stdout.write(JSON.stringify({ t: Date.now() / 1000, ...o }) + '\n');
const LINGER_MS = 1000;
const SSE_EVENTS = ['item', 'retract', 'reset'];
const eventsPath = `/v1/nodes/${encodeURIComponent(node)}/events`;
const pageUrl = `${baseUrl}/sse-test-page`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Herald's port is a free one picked by the harness; Chromium refuses a
  // few ports outright (ERR_UNSAFE_PORT), so allow this one explicitly.
  args: ['--no-sandbox', `--explicitly-allowed-ports=${new URL(baseUrl).port}`],
});
let code = 1;
try {
  const context = await browser.newContext({
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
  await page.route(pageUrl, (route) => route.fulfill({
    status: 200,
    contentType: 'text/html',
    body: '<!doctype html><meta charset="utf-8"><title>Herald SSE</title><p>sse</p>',
  }));
  // Each (re)connection of the EventSource, with the headers as sent on
  // the wire. Playwright's request.allHeaders() leaves out what the network
  // stack adds (Last-Event-ID, Cache-Control), so read CDP's
  // requestWillBeSentExtraInfo, matched to the URL by requestId (the two
  // CDP events come in either order).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  const wire = new Map();
  const connection = (id) => {
    if (!urls.has(id) || !wire.has(id)) return;
    const url = urls.get(id);
    const h = Object.fromEntries(Object.entries(wire.get(id)).map(([k, v]) => [k.toLowerCase(), v]));
    urls.delete(id);
    wire.delete(id);
    if (!url.startsWith(baseUrl + eventsPath)) return;
    emit({ event: '_request', last_event_id: h['last-event-id'] ?? null,
           authorized: h.authorization === `Bearer ${token}`,
           cache_control: h['cache-control'] ?? null });
  };
  cdp.on('Network.requestWillBeSent', (e) => { urls.set(e.requestId, e.request.url); connection(e.requestId); });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => { wire.set(e.requestId, e.headers); connection(e.requestId); });
  page.on('response', (res) => {
    if (!res.url().startsWith(baseUrl + eventsPath)) return;
    emit({ event: '_response', status: res.status(),
           content_type: res.headers()['content-type'] ?? null });
  });

  let seen = 0;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  await page.exposeFunction('heraldEmit', (o) => {
    emit(o);
    if (!o.event.startsWith('_')) seen += 1;
    if (seen === count && !o.event.startsWith('_')) {
      setTimeout(() => finish({ ok: true, code: 0, reason: `${seen} events` }), LINGER_MS);
    }
    if (o.event === '_error' && o.readyState === 2) {
      finish({ ok: false, code: 3, reason: 'the EventSource gave up (readyState CLOSED)' });
    }
  });
  await page.goto(pageUrl);
  await page.evaluate(({ path, types }) => {
    const es = new EventSource(path);
    window.heraldSource = es;
    es.addEventListener('open', () => window.heraldEmit({ event: '_open' }));
    es.addEventListener('error', () => window.heraldEmit({ event: '_error', readyState: es.readyState }));
    for (const t of types) {
      es.addEventListener(t, (e) => window.heraldEmit({ event: e.type, id: e.lastEventId, data: e.data }));
    }
    // An event with no `event:` field: none is expected, reported if it comes.
    es.onmessage = (e) => window.heraldEmit({ event: 'message', id: e.lastEventId, data: e.data });
  }, { path: eventsPath, types: SSE_EVENTS });

  const timer = setTimeout(() => finish({ ok: false, code: 2, reason: `timed out after ${timeoutMs} ms with ${seen} of ${count} events` }), timeoutMs);
  const result = await finished;
  clearTimeout(timer);
  await page.evaluate(() => window.heraldSource.close()).catch(() => {});
  emit({ event: '_done', ok: result.ok, reason: result.reason });
  code = result.code;
} catch (e) {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  emit({ event: '_done', ok: false, reason: String(e) });
  code = 1;
} finally {
  await browser.close().catch(() => {});
}
process.exit(code);

// What the xmpp.js and stanza.js flows share: their parameters (from the
// environment the pytest test sets), waiting, and the JSON report.
export function env() {
  const e = process.env;
  return {
    service: e.HERALD_SERVICE,
    node: e.HERALD_NODE,
    domain: e.HERALD_DOMAIN || 'localhost',
    password: e.HERALD_PASSWORD || 'pass',
    c2sUrl: `xmpp://127.0.0.1:${e.HERALD_C2S_PORT}`,
    wsUrl: `ws://127.0.0.1:${e.HERALD_HTTP_PORT}/ws`,
    live: e.HERALD_LIVE.split(','),
    missed: e.HERALD_MISSED.split(','),
  };
}

export function withTimeout(promise, what, ms = 10000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first `n` entries of `events` once they arrived. */
export async function collectLive(events, n, ms = 10000) {
  const deadline = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} live events`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return events.slice(0, n);
}

/** Item IDs of a stanza.js-parsed forwarded event message. */
export function publishedIds(message) {
  const items = message && message.pubsub && message.pubsub.items;
  return items && items.published ? items.published.map((i) => i.id) : [];
}

export function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

// A failure anywhere: the reason on stderr, exit 1 (the test shows it).
process.on('unhandledRejection', (e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

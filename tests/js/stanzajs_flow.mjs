// Herald through stanza.js (websocket to ejabberd's /ws), the way its
// documentation shows: subscribe, live events, disconnect, then catch-up
// by RSM after the last item ID and by MAM after the last stanza-id.
// Run by tests/integration/test_js_clients.py; prints one JSON line.
import * as XMPP from 'stanza';
import { env, collectLive, publishedIds, report, withTimeout } from './flow.mjs';

const { service, node, wsUrl, domain, password, live, missed } = env();

async function login(user) {
  const client = XMPP.createClient({
    jid: `${user}@${domain}`,
    password,
    transports: { websocket: wsUrl, bosh: false },
  });
  const started = new Promise((resolve, reject) => {
    client.once('session:started', resolve);
    client.once('auth:failed', () => reject(new Error(`${user}: auth failed`)));
  });
  client.connect();
  await withTimeout(started, `${user} login`);
  client.sendPresence();
  return client;
}

async function stop(client) {
  const ended = new Promise((resolve) => client.once('disconnected', resolve));
  client.disconnect();
  await withTimeout(ended, 'disconnect');
}

const alice = await login('alice');
let bob = await login('bob');
await alice.createNode(service, node);
// stanza.js sends the full JID unless told otherwise.
await bob.subscribeToNode(service, { node, useBareJID: true });

const events = [];
bob.on('pubsub:published', (msg) => {
  if (msg.pubsub.items.node !== node) return;
  const sid = (msg.stanzaIds || []).find((s) => s.by === service);
  for (const item of msg.pubsub.items.published) events.push({ id: item.id, sid: sid && sid.id });
});
for (const id of live) await alice.publish(service, node, { itemType: 'http://jabber.org/protocol/tune', title: id }, id);
const seen = await collectLive(events, live.length);
const last = seen[seen.length - 1];
await stop(bob);

for (const id of missed) await alice.publish(service, node, { itemType: 'http://jabber.org/protocol/tune', title: id }, id);

bob = await login('bob');
// RSM: getItems after the last item ID, 10 a page, until a page is empty.
const rsm = [];
let after = last.id;
for (;;) {
  const page = await bob.getItems(service, node, { after, max: 10 });
  const ids = (page.items || []).map((i) => i.id);
  if (ids.length === 0) break;
  rsm.push(...ids);
  after = page.paging.last;
}
// MAM on the node: after the last stanza-id, 10 a page, until complete.
const mam = [];
let cursor = last.sid;
for (;;) {
  const fin = await bob.searchHistory(service, { node, paging: { after: cursor, max: 10 } });
  for (const r of fin.results) mam.push(...publishedIds(r.item.message));
  if (fin.complete || fin.results.length === 0) break;
  cursor = fin.paging.last;
}
// `max` alone with max_items (stanza.js getItems({max})): the newest.
const newest = (await bob.getItems(service, node, { max: 3 })).items.map((i) => i.id);
await stop(bob);
await stop(alice);
report({ live: seen.map((e) => e.id), sids: seen.map((e) => e.sid), rsm, mam, newest });
process.exit(0);

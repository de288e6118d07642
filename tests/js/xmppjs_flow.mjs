// Herald through xmpp.js (@xmpp/client, c2s over TCP). xmpp.js has no
// pubsub plugin: its users build the stanzas with `xml` and send IQs with
// iqCaller, as here. Subscribe, live events, disconnect, then catch-up by
// RSM after the last item ID and by MAM after the last stanza-id.
// Run by tests/integration/test_js_clients.py; prints one JSON line.
import { client, xml } from '@xmpp/client';
import { env, collectLive, report, withTimeout } from './flow.mjs';

const { service, node, c2sUrl, domain, password, live, missed } = env();
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const EVENT = 'http://jabber.org/protocol/pubsub#event';
const RSM = 'http://jabber.org/protocol/rsm';
const MAM = 'urn:xmpp:mam:2';
const SID = 'urn:xmpp:sid:0';

async function login(user) {
  const xmpp = client({ service: c2sUrl, domain, username: user, password, resource: 'js' });
  xmpp.on('error', () => {}); // surfaced by the awaited calls instead
  await withTimeout(xmpp.start(), `${user} login`);
  await xmpp.send(xml('presence'));
  return xmpp;
}

const iq = (xmpp, type, child) => withTimeout(
  xmpp.iqCaller.request(xml('iq', { type, to: service }, child)), 'iq');

const publish = (xmpp, id) => iq(xmpp, 'set', xml('pubsub', { xmlns: PUBSUB },
  xml('publish', { node }, xml('item', { id }, xml('entry', { xmlns: 'urn:example:herald:js' }, id)))));

function eventItemIds(message) {
  const items = message.getChild('event', EVENT)?.getChild('items');
  if (!items || items.attrs.node !== node) return [];
  return items.getChildren('item').map((i) => i.attrs.id);
}

const alice = await login('alice');
let bob = await login('bob');
await iq(alice, 'set', xml('pubsub', { xmlns: PUBSUB }, xml('create', { node })));
await iq(bob, 'set', xml('pubsub', { xmlns: PUBSUB },
  xml('subscribe', { node, jid: `bob@${domain}` })));

const events = [];
bob.on('stanza', (s) => {
  if (!s.is('message') || s.attrs.from !== service) return;
  const sid = s.getChildren('stanza-id', SID).find((e) => e.attrs.by === service);
  for (const id of eventItemIds(s)) events.push({ id, sid: sid && sid.attrs.id });
});
for (const id of live) await publish(alice, id);
const seen = await collectLive(events, live.length);
const last = seen[seen.length - 1];
await bob.stop();

for (const id of missed) await publish(alice, id);

bob = await login('bob');
// RSM: items after the last item ID, 10 a page, until a page is empty.
const rsm = [];
let after = last.id;
for (;;) {
  const res = await iq(bob, 'get', xml('pubsub', { xmlns: PUBSUB },
    xml('items', { node }),
    xml('set', { xmlns: RSM }, xml('max', {}, '10'), xml('after', {}, after))));
  const ps = res.getChild('pubsub', PUBSUB);
  const ids = ps.getChild('items').getChildren('item').map((i) => i.attrs.id);
  if (ids.length === 0) break;
  rsm.push(...ids);
  after = ps.getChild('set', RSM).getChildText('last');
}
// MAM on the node: after the last stanza-id, 10 a page, until complete.
const mam = [];
let cursor = last.sid;
let n = 0;
for (;;) {
  const queryid = `q${n++}`;
  const page = [];
  const collect = (s) => {
    const r = s.is('message') && s.getChild('result', MAM);
    if (!r || r.attrs.queryid !== queryid) return;
    const msg = r.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
    if (msg) page.push(...eventItemIds(msg));
  };
  bob.on('stanza', collect);
  const res = await iq(bob, 'set', xml('query', { xmlns: MAM, queryid, node },
    xml('set', { xmlns: RSM }, xml('max', {}, '10'), xml('after', {}, cursor))));
  bob.removeListener('stanza', collect);
  mam.push(...page);
  const fin = res.getChild('fin', MAM);
  if (fin.attrs.complete === 'true' || page.length === 0) break;
  cursor = fin.getChild('set', RSM).getChildText('last');
}
await bob.stop();
await alice.stop();
report({ live: seen.map((e) => e.id), sids: seen.map((e) => e.sid), rsm, mam });
process.exit(0);

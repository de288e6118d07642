//! Discovery (XEP-0033 §2), bounce resend and pause of the adapter.

use super::*;

fn me() -> Jid {
    Jid::new("events.localhost").unwrap()
}

fn parse(xml: &str) -> Stanza {
    let el: Element = xml.parse().unwrap();
    Stanza::try_from(el).unwrap()
}

const NS: &str = "xmlns='jabber:component:accept'";

fn iq_id(s: &Stanza) -> (String, String) {
    let Stanza::Iq(Iq::Get { id, to, .. }) = s else {
        panic!("not a get: {s:?}")
    };
    (
        id.clone(),
        to.as_ref().map(|t| t.to_string()).unwrap_or_default(),
    )
}

/// Runs discovery to the end with `multicast.localhost` offering the
/// feature and `conference.localhost` not.
fn discovered() -> Multicast {
    let mut m = Multicast::new(true, 20, me());
    let mut out = Vec::new();
    m.link_up(&mut out);
    assert_eq!(out.len(), 2, "info and items of the server: {out:?}");
    let (info_id, to) = iq_id(&out[0]);
    assert_eq!(to, "localhost");
    let plain = parse(&format!(
        "<iq {NS} type='result' id='{info_id}' from='localhost' to='events.localhost'>\
         <query xmlns='{DISCO_INFO}'><feature var='{DISCO_ITEMS}'/></query></iq>"
    ));
    assert!(m.claims(&plain));
    m.on_stanza(plain, Instant::now(), &mut Vec::new());
    assert!(
        m.current(Instant::now()).is_none(),
        "the server is no service"
    );
    let (id, to) = iq_id(&out[1]);
    assert_eq!(to, "localhost");
    let items = parse(&format!(
        "<iq {NS} type='result' id='{id}' from='localhost' to='events.localhost'>\
         <query xmlns='{DISCO_ITEMS}'><item jid='conference.localhost'/>\
         <item jid='multicast.localhost'/><item jid='events.localhost'/></query></iq>"
    ));
    assert!(m.claims(&items));
    let mut out = Vec::new();
    m.on_stanza(items, Instant::now(), &mut out);
    assert_eq!(out.len(), 2, "ourselves not asked: {out:?}");
    for q in &out {
        let (id, to) = iq_id(q);
        let feature = if to == "multicast.localhost" {
            ADDRESS
        } else {
            "urn:other"
        };
        let info = parse(&format!(
            "<iq {NS} type='result' id='{id}' from='{to}' to='events.localhost'>\
             <query xmlns='{DISCO_INFO}'><feature var='{feature}'/></query></iq>"
        ));
        assert!(m.claims(&info));
        m.on_stanza(info, Instant::now(), &mut Vec::new());
    }
    m
}

fn multicast_stanza(id: &str) -> Stanza {
    parse(&format!(
        "<message {NS} id='{id}' from='events.localhost' to='multicast.localhost'>\
         <event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='n'/></event>\
         <addresses xmlns='{ADDRESS}'><address type='bcc' jid='a@localhost'/>\
         <address type='bcc' jid='b@localhost'/></addresses></message>"
    ))
}

#[test]
fn discovery_finds_the_service_offering_the_address_feature() {
    let m = discovered();
    let f = m.current(Instant::now()).expect("a fanout");
    assert_eq!(f.service.to_string(), "multicast.localhost");
    assert_eq!(f.batch, 20);
}

#[test]
fn disabled_or_undiscovered_means_one_message_each() {
    let mut off = Multicast::new(false, 20, me());
    let mut out = Vec::new();
    off.link_up(&mut out);
    assert!(out.is_empty(), "no discovery when off");
    assert!(off.current(Instant::now()).is_none());
    let fresh = Multicast::new(true, 20, me());
    assert!(fresh.current(Instant::now()).is_none());
    // A single-label component JID has no parent domain to ask.
    let top = Multicast::new(true, 20, Jid::new("events").unwrap());
    assert!(top.current(Instant::now()).is_none());
}

#[test]
fn a_reconnect_forgets_the_service_until_asked_again() {
    let mut m = discovered();
    m.link_up(&mut Vec::new());
    assert!(m.current(Instant::now()).is_none());
}

#[test]
fn a_bounce_is_resent_per_recipient_and_pauses_multicast() {
    let mut m = discovered();
    m.record(&[multicast_stanza("mc1")]);
    let bounce = || {
        parse(&format!(
            "<message {NS} type='error' id='mc1' from='multicast.localhost' to='events.localhost'>\
             <error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             </error></message>"
        ))
    };
    assert!(m.claims(&bounce()));
    let now = Instant::now();
    let resent = m.on_stanza(bounce(), now, &mut Vec::new());
    let to: Vec<String> = resent
        .iter()
        .map(|s| match s {
            Stanza::Message(msg) => {
                assert!(!msg.payloads.iter().any(|p| p.is("addresses", ADDRESS)));
                assert!(
                    msg.payloads
                        .iter()
                        .any(|p| p.is("event", "http://jabber.org/protocol/pubsub#event"))
                );
                msg.to.as_ref().map(|t| t.to_string()).unwrap_or_default()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(to, ["a@localhost", "b@localhost"]);
    assert!(m.current(now).is_none(), "paused");
    assert!(
        m.current(now + PAUSE_AFTER_BOUNCE).is_some(),
        "resumed later"
    );
    // The same bounce again resends nothing twice.
    assert!(m.on_stanza(bounce(), now, &mut Vec::new()).is_empty());
}

#[test]
fn other_stanzas_are_not_claimed() {
    let m = discovered();
    let user_error = parse(&format!(
        "<message {NS} type='error' id='x' from='a@localhost' to='events.localhost'/>"
    ));
    assert!(!m.claims(&user_error));
    let result = parse(&format!(
        "<iq {NS} type='result' id='other' from='a@localhost' to='events.localhost'/>"
    ));
    assert!(!m.claims(&result));
}

#[test]
fn discovery_ends_without_a_service_when_the_server_cannot_list_items() {
    let mut m = Multicast::new(true, 20, me());
    let mut out = Vec::new();
    m.link_up(&mut out);
    let (info_id, _) = iq_id(&out[0]);
    let (items_id, _) = iq_id(&out[1]);
    let info = parse(&format!(
        "<iq {NS} type='result' id='{info_id}' from='localhost' to='events.localhost'>\
         <query xmlns='{DISCO_INFO}'/></iq>"
    ));
    m.on_stanza(info, Instant::now(), &mut Vec::new());
    assert!(!m.found_none(), "the items query is still unanswered");
    let refused = parse(&format!(
        "<iq {NS} type='error' id='{items_id}' from='localhost' to='events.localhost'>\
         <error type='cancel'><service-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ));
    assert!(m.claims(&refused));
    m.on_stanza(refused, Instant::now(), &mut Vec::new());
    assert!(m.found_none());
    assert!(m.current(Instant::now()).is_none());
}

#[test]
fn discovery_that_found_the_service_did_not_find_none() {
    let m = discovered();
    assert!(!m.found_none());
}

//! Notification rendering through a XEP-0033 multicast service: which
//! recipients share a stanza and which keep their own.

use super::*;
use std::sync::Arc;

fn service() -> BareJid {
    "events.localhost".parse().unwrap()
}

fn fanout(batch: usize) -> Fanout {
    Fanout {
        service: Jid::new("multicast.localhost").unwrap(),
        batch,
    }
}

fn to(jid: &str, subids: &[&str]) -> Recipient {
    Recipient {
        jid: jid.parse().unwrap(),
        subids: subids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn published(recipients: Vec<Recipient>, payload: Option<&str>) -> Notification {
    Notification {
        node: "n".into(),
        message_type: NotificationType::Headline,
        event: Event::Items {
            items: vec![Item {
                id: "i1".into(),
                seq: 1,
                publisher: None,
                published_ms: 1,
                payload: payload.map(Arc::from),
            }],
            include_payload: true,
            last_published: false,
        },
        recipients,
        archive_id: Some("a1".into()),
        item_archive_ids: Vec::new(),
        collection: None,
    }
}

fn messages(max: usize, f: Option<&Fanout>, n: &Notification) -> Vec<Message> {
    render(&service(), max, f, n)
        .into_iter()
        .map(|s| match s {
            Stanza::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

fn bcc(m: &Message) -> Vec<String> {
    m.payloads
        .iter()
        .find(|p| p.is("addresses", multicast::ADDRESS))
        .map(|a| {
            multicast::bcc_recipients(a)
                .iter()
                .map(|j| j.to_string())
                .collect()
        })
        .unwrap_or_default()
}

const MAX: usize = crate::config::DEFAULT_MAX_STANZA_BYTES;

#[test]
fn alike_recipients_share_one_stanza_and_subids_keep_their_own() {
    let n = published(
        vec![
            to("a@localhost", &[]),
            to("b@localhost", &["s1", "s2"]),
            to("c@localhost", &[]),
            to("d@localhost", &[]),
        ],
        Some("<x xmlns='urn:t'/>"),
    );
    let ms = messages(MAX, Some(&fanout(20)), &n);
    assert_eq!(ms.len(), 2, "{ms:?}");
    let shared = &ms[0];
    assert_eq!(shared.to, Some(Jid::new("multicast.localhost").unwrap()));
    assert_eq!(bcc(shared), ["a@localhost", "c@localhost", "d@localhost"]);
    assert!(
        shared
            .payloads
            .iter()
            .any(|p| p.is("event", ns::PUBSUB_EVENT))
    );
    assert!(shared.payloads.iter().any(|p| p.is("stanza-id", SID)));
    assert!(!shared.payloads.iter().any(|p| p.is("headers", ns::SHIM)));
    let own = &ms[1];
    assert_eq!(own.to, Some(Jid::new("b@localhost").unwrap()));
    assert!(own.payloads.iter().any(|p| p.is("headers", ns::SHIM)));
    assert!(bcc(own).is_empty());
}

#[test]
fn batches_follow_the_batch_size_and_a_lone_recipient_goes_direct() {
    let rs = (0..5)
        .map(|i| to(&format!("u{i}@localhost"), &[]))
        .collect();
    let ms = messages(MAX, Some(&fanout(2)), &published(rs, None));
    let sizes: Vec<usize> = ms.iter().map(|m| bcc(m).len()).collect();
    assert_eq!(sizes, [2, 2, 0]);
    assert_eq!(ms[2].to, Some(Jid::new("u4@localhost").unwrap()));
    let every: Vec<String> = ms[..2].iter().flat_map(bcc).collect();
    assert_eq!(every.len(), 4, "each recipient once");
}

#[test]
fn without_fanout_everyone_gets_a_message() {
    let rs = (0..3)
        .map(|i| to(&format!("u{i}@localhost"), &[]))
        .collect();
    let ms = messages(MAX, None, &published(rs, None));
    assert_eq!(ms.len(), 3);
    assert!(ms.iter().all(|m| bcc(m).is_empty()));
}

#[test]
fn multicast_stanzas_stay_under_the_stanza_limit() {
    let rs: Vec<Recipient> = (0..200)
        .map(|i| to(&format!("someone-with-a-long-name-{i}@localhost"), &[]))
        .collect();
    let max = 4096;
    let ms = messages(max, Some(&fanout(1000)), &published(rs, None));
    assert!(ms.len() > 1);
    for m in &ms {
        let el: Element = m.clone().into();
        assert!(stanza_size::xml_len(&el) <= max, "over the limit");
    }
    let every: usize = ms.iter().map(|m| bcc(m).len().max(1)).sum();
    assert_eq!(every, 200);
}

#[test]
fn other_events_multicast_too() {
    let n = Notification {
        event: Event::Purge,
        ..published(vec![to("a@localhost", &[]), to("b@localhost", &[])], None)
    };
    let ms = messages(MAX, Some(&fanout(20)), &n);
    assert_eq!(ms.len(), 1);
    assert_eq!(bcc(&ms[0]).len(), 2);
}

//! The published-items feed and `herald#chat` subscriptions.

use super::*;
use crate::pubsub::names::nn;

fn chat_subscribe(svc: &mut Svc, who: &str) {
    let chat = fields(&[(CHAT_FIELD, "true")]);
    let out = svc
        .subscribe(&ent(who), &nn(NODE), &jid(who), Some(&chat))
        .unwrap();
    assert!(out.reply.options.chat);
}

#[test]
fn feed_is_off_until_enabled_then_yields_each_publish_once() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    assert!(svc.take_published().is_empty());
    svc.enable_feed();
    publish_ids(&mut svc, &["b", "c"]);
    let feed = svc.take_published();
    let ids: Vec<&str> = (feed.iter())
        .flat_map(|p| p.items.iter().map(|i| i.id.as_str()))
        .collect();
    assert_eq!(ids, ["b", "c"]);
    assert!(feed.iter().all(|p| p.node == NODE));
    assert!(svc.take_published().is_empty());
}

#[test]
fn chat_subscribers_get_no_event_notifications() {
    let mut svc = service_with_node(&[]);
    chat_subscribe(&mut svc, "bob@example.com");
    subscribe(&mut svc, "carol@example.com");
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert_eq!(recipients(&out), vec!["carol@example.com"]);
    assert_eq!(svc.chat_subscribers(NODE), vec![jid("bob@example.com")]);
}

#[test]
fn chat_option_persists_and_is_a_separate_subscription() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "bob@example.com");
    chat_subscribe(&mut svc, "bob@example.com");
    let svc = reopen(svc);
    let subs = svc
        .subscriptions(&ent("bob@example.com"), Some(&nn(NODE)))
        .unwrap();
    let chat: Vec<bool> = subs.iter().map(|s| s.options.chat).collect();
    assert_eq!(chat, vec![false, true]);
    assert_eq!(svc.chat_subscribers(NODE), vec![jid("bob@example.com")]);
}

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

/// XEP-0248: chat items subscriptions to a collection reach the leaves
/// within their depth that the subscriber may read; pubsub-only and nodes
/// subscriptions are not chat recipients.
#[test]
fn chat_collection_subscribers_follow_depth_type_and_leaf_access() {
    let mut svc = service();
    let create = |svc: &mut Svc, name: &str, config: &[(&str, &str)]| {
        let _ = (svc.create_node(&ent(OWNER), Some(&nn(name)), Some(&fields(config)))).unwrap();
    };
    create(&mut svc, "top", &[("pubsub#node_type", "collection")]);
    let mid = [
        ("pubsub#node_type", "collection"),
        ("pubsub#collection", "top"),
    ];
    create(&mut svc, "mid", &mid);
    create(&mut svc, "near", &[("pubsub#collection", "top")]);
    create(&mut svc, "far", &[("pubsub#collection", "mid")]);
    let closed = [
        ("pubsub#collection", "top"),
        ("pubsub#access_model", "whitelist"),
    ];
    create(&mut svc, "closed", &closed);
    let sub = |svc: &mut Svc, who: &str, opts: &[(&str, &str)]| {
        let _ = (svc.subscribe(&ent(who), &nn("top"), &jid(who), Some(&fields(opts)))).unwrap();
    };
    let items = ("pubsub#subscription_type", "items");
    sub(&mut svc, "one@example.com", &[(CHAT_FIELD, "true"), items]);
    let all = ("pubsub#subscription_depth", "all");
    sub(
        &mut svc,
        "all@example.com",
        &[(CHAT_FIELD, "true"), items, all],
    );
    sub(&mut svc, "nodes@example.com", &[(CHAT_FIELD, "true"), all]);
    sub(&mut svc, "plain@example.com", &[items, all]);
    let who = |svc: &Svc, leaf: &str| -> Vec<String> {
        (svc.chat_collection_subscribers(leaf).into_iter())
            .map(|(j, c)| format!("{j} via {c}"))
            .collect()
    };
    let both = ["one@example.com via top", "all@example.com via top"];
    assert_eq!(who(&svc, "near"), both);
    assert_eq!(who(&svc, "far"), ["all@example.com via top"]);
    assert!(who(&svc, "closed").is_empty(), "may not read the leaf");
    assert_eq!(svc.collections_above("far"), ["mid", "top"]);
    assert!(svc.may_read("near", &bare("x@example.com")));
    assert!(!svc.may_read("closed", &bare("x@example.com")));
}

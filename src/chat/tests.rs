//! Chat subscriptions to XEP-0248 collections against the real core
//! (memory store): the command, `list`, delivery and `unsubscribe`.

use super::*;
use crate::pubsub::names::nn;
use crate::pubsub::tests::fixtures::form;
use crate::pubsub::{Actor, NewItem, SubscriptionType};
use crate::store::MemoryStore;

const OWNER: &str = "owner@example.com";
const BOB: &str = "bob@example.com";

type Svc = Service<MemoryStore>;

fn actor(who: &str) -> Actor {
    Actor::Entity(who.parse().unwrap())
}

fn tree() -> Svc {
    crate::pubsub::tests::fixtures::collection_tree()
}

/// Bob's command and Herald's answer.
fn say(svc: &mut Svc, text: &str) -> String {
    let cmd = command::parse(text).unwrap();
    let bodies = BodyRenderer::default();
    answer::execute(svc, &bodies, &BOB.parse().unwrap(), cmd).text
}

fn chat() -> ChatService {
    let service: BareJid = "events.localhost".parse().unwrap();
    ChatService::new(
        &ChatConfig::default(),
        Arc::new(BodyRenderer::default()),
        service,
    )
}

/// Publishes one item to each leaf and returns (to, body, wrapper node,
/// wrapper collection) of every chat message.
fn publish(svc: &mut Svc, chat: &mut ChatService, leaves: &[&str]) -> Vec<[String; 4]> {
    for leaf in leaves {
        let item = NewItem {
            id: Some(format!("{leaf}-1").as_str().into()),
            payload: Some("<app xmlns='urn:x' name='shiny'/>".into()),
        };
        let _ = (svc.publish(&actor(OWNER), &nn(leaf), vec![item], None)).unwrap();
    }
    let mut out = Vec::new();
    for p in svc.take_published() {
        chat.deliver(svc, &p, Instant::now(), &mut out);
    }
    message::summaries(&out)
}

fn got(leaf: &str, collection: &str) -> [String; 4] {
    [
        BOB.into(),
        format!("[{leaf}] app name=shiny"),
        leaf.into(),
        collection.into(),
    ]
}

#[test]
fn subscribing_to_a_collection_delivers_every_readable_leaf_below_it() {
    let (mut svc, mut chat) = (tree(), chat());
    let answer = say(&mut svc, "subscribe family");
    assert!(
        answer.starts_with("Subscribed to family: new items of every node in it"),
        "{answer}"
    );
    let subs = svc.subscriptions(&actor(BOB), Some(&nn("family"))).unwrap();
    let o = &subs[0].options;
    assert!(o.chat && o.subscription_type == SubscriptionType::Items);
    assert_eq!(o.subscription_depth, None, "depth all");
    let got_ = publish(&mut svc, &mut chat, &["created", "deep", "secret", "lone"]);
    assert_eq!(got_, [got("created", "family"), got("deep", "family")]);
}

#[test]
fn list_marks_the_collection_and_the_leaves_it_brings() {
    let mut svc = tree();
    let _ = say(&mut svc, "subscribe family");
    let list = say(&mut svc, "list");
    // A nested collection is marked too: its leaves arrive through family.
    // The whitelist leaf stays hidden, as in disco#items.
    let want = [
        "Nodes (* = you receive them here, + = through a collection):",
        "+ created via family",
        "+ deep via family",
        "+ eu [collection] via family",
        "* family [collection]",
        "  lone",
    ];
    assert_eq!(list.lines().collect::<Vec<_>>(), want);
}

#[test]
fn a_leaf_also_subscribed_directly_arrives_once_as_its_own() {
    let (mut svc, mut chat) = (tree(), chat());
    let _ = say(&mut svc, "subscribe family");
    let _ = say(&mut svc, "subscribe created");
    let got_ = publish(&mut svc, &mut chat, &["created"]);
    assert_eq!(got_, [got("created", "-")]);
}

#[test]
fn unsubscribing_from_the_collection_stops_its_leaves() {
    let (mut svc, mut chat) = (tree(), chat());
    let _ = say(&mut svc, "subscribe family");
    assert_eq!(
        say(&mut svc, "unsubscribe family"),
        "Unsubscribed from family."
    );
    assert!(publish(&mut svc, &mut chat, &["created", "deep"]).is_empty());
    assert!(!say(&mut svc, "list").contains("+ created"));
}

#[test]
fn a_leaf_moved_out_stops_arriving() {
    let (mut svc, mut chat) = (tree(), chat());
    let _ = say(&mut svc, "subscribe family");
    let out = form(&[("pubsub#collection", "")]);
    let _ = svc.configure(&actor(OWNER), &nn("deep"), &out).unwrap();
    let got_ = publish(&mut svc, &mut chat, &["deep", "created"]);
    assert_eq!(got_, [got("created", "family")]);
}

#[test]
fn last_on_a_collection_shows_the_newest_items_of_its_readable_leaves() {
    let (mut svc, mut chat) = (tree(), chat());
    publish(&mut svc, &mut chat, &["created", "deep", "secret", "lone"]);
    let text = say(&mut svc, "last family");
    assert!(
        text.starts_with("The 2 newest of 2 items on family"),
        "{text}"
    );
    // Bob may not read the whitelist leaf; lone is in no collection.
    assert!(!text.contains("secret") && !text.contains("lone"), "{text}");
}

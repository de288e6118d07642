//! XEP-0248 collection nodes on the service: creation, association,
//! items and nodes subscriptions, access filtering, persistence.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

fn create(svc: &mut Svc, name: &str, config: &[(&str, &str)]) -> Outcome<String> {
    svc.create_node(&ent(OWNER), Some(&nn(name)), Some(&fields(config)))
        .unwrap()
}

/// root ⊃ news ⊃ sports (a leaf), and weather (a leaf) directly in root.
fn tree() -> Svc {
    let mut svc = service();
    let _ = create(&mut svc, "root", &[("pubsub#node_type", "collection")]);
    let _ = create(
        &mut svc,
        "news",
        &[
            ("pubsub#node_type", "collection"),
            ("pubsub#collection", "root"),
        ],
    );
    let _ = create(&mut svc, "sports", &[("pubsub#collection", "news")]);
    let _ = create(&mut svc, "weather", &[("pubsub#collection", "root")]);
    svc
}

fn sub_with(svc: &mut Svc, who: &str, node: &str, opts: &[(&str, &str)]) {
    let _ = svc
        .subscribe(&ent(who), &nn(node), &jid(who), Some(&fields(opts)))
        .unwrap();
}

fn publish(svc: &mut Svc, node: &str, id: &str) -> Outcome<PublishReply> {
    svc.publish(&ent(OWNER), &nn(node), vec![item(id, "<p/>")], None)
        .unwrap()
}

/// (node, collection header, recipients) of each notification.
fn routes<T>(o: &Outcome<T>) -> Vec<(String, Option<String>, Vec<String>)> {
    let to = |n: &Notification| n.recipients.iter().map(|r| r.jid.to_string()).collect();
    (o.notifications.iter())
        .map(|n| (n.node.clone(), n.collection.clone(), to(n)))
        .collect()
}

fn route(node: &str, via: &str, who: &str) -> (String, Option<String>, Vec<String>) {
    (node.into(), Some(via.into()), vec![who.into()])
}

#[test]
fn children_are_derived_from_parents_and_listed() {
    let svc = tree();
    let kids = svc.collection_children(&ent(BOB), &nn("root")).unwrap();
    let names: Vec<String> = kids.unwrap().into_iter().map(|s| s.node).collect();
    assert_eq!(names, vec!["news", "weather"]);
    assert_eq!(
        svc.collection_children(&ent(BOB), &nn("sports")).unwrap(),
        None
    );
    let form = svc.node_config(&ent(OWNER), &nn("news")).unwrap();
    let children = form.iter().find(|f| f.var == "pubsub#children").unwrap();
    assert_eq!(children.values, vec!["sports"]);
}

#[test]
fn publishing_to_a_collection_is_refused() {
    let mut svc = tree();
    let got = svc.publish(&ent(OWNER), &nn("root"), vec![item("a", "<p/>")], None);
    assert_eq!(got.unwrap_err(), PubsubError::UnsupportedFeature("publish"));
}

#[test]
fn items_subscription_depth_one_and_all() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let carol = "carol@example.com";
    sub_with(
        &mut svc,
        carol,
        "root",
        &[
            ("pubsub#subscription_type", "items"),
            ("pubsub#subscription_depth", "all"),
        ],
    );
    // weather is one level below root: both; sports is two: only carol.
    let got = routes(&publish(&mut svc, "weather", "w1"));
    assert_eq!(
        got,
        vec![(
            "weather".into(),
            Some("root".into()),
            vec![BOB.into(), carol.into()]
        )]
    );
    assert_eq!(
        routes(&publish(&mut svc, "sports", "s1")),
        vec![route("sports", "root", carol)]
    );
}

#[test]
fn a_nodes_subscription_hears_of_new_children_not_items() {
    let mut svc = tree();
    sub_with(&mut svc, BOB, "news", &[]);
    assert!(publish(&mut svc, "sports", "s1").notifications.is_empty());
    let out = create(&mut svc, "tennis", &[("pubsub#collection", "news")]);
    assert_eq!(out.notifications.len(), 1);
    let n = &out.notifications[0];
    assert_eq!(n.node, "news");
    assert_eq!(
        n.event,
        Event::Associate {
            child: "tennis".into()
        }
    );
}

#[test]
fn a_leaf_the_subscriber_may_not_read_is_filtered_out() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let _ = svc
        .configure(
            &ent(OWNER),
            &nn("weather"),
            &fields(&[("pubsub#access_model", "whitelist")]),
        )
        .unwrap();
    assert!(publish(&mut svc, "weather", "w1").notifications.is_empty());
    let _ = svc
        .modify_affiliations(
            &ent(OWNER),
            &nn("weather"),
            &[(bare(BOB), Affiliation::Member)],
        )
        .unwrap();
    assert_eq!(
        routes(&publish(&mut svc, "weather", "w2")),
        vec![route("weather", "root", BOB)]
    );
}

#[test]
fn a_leaf_moved_out_no_longer_notifies_and_the_move_is_announced() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "all")],
    );
    let out = svc
        .configure(
            &ent(OWNER),
            &nn("weather"),
            &fields(&[("pubsub#collection", "")]),
        )
        .unwrap();
    let Event::Dissociate { child } = &out.notifications[0].event else {
        panic!("{:?}", out.notifications);
    };
    assert_eq!(child, "weather");
    assert!(publish(&mut svc, "weather", "w1").notifications.is_empty());
}

#[test]
fn children_can_be_set_on_the_collection() {
    let mut svc = tree();
    let set = vec![(
        "pubsub#children".to_owned(),
        vec!["sports".to_owned(), "weather".to_owned()],
    )];
    let _ = svc.configure(&ent(OWNER), &nn("news"), &set).unwrap();
    let config = &svc.node(&nn("weather")).unwrap().meta.config;
    assert_eq!(config.collections, vec!["root", "news"]);
    let none = vec![("pubsub#children".to_owned(), vec![])];
    let _ = svc.configure(&ent(OWNER), &nn("news"), &none).unwrap();
    assert!(svc.children_of("news").is_empty());
}

#[test]
fn bad_associations_are_not_allowed() {
    let mut svc = tree();
    let cycle = fields(&[("pubsub#collection", "news")]);
    let got = svc.configure(&ent(OWNER), &nn("root"), &cycle).unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let under_leaf = fields(&[("pubsub#collection", "sports")]);
    let got = svc
        .configure(&ent(OWNER), &nn("weather"), &under_leaf)
        .unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let to_leaf = fields(&[("pubsub#node_type", "leaf")]);
    let got = svc
        .configure(&ent(OWNER), &nn("news"), &to_leaf)
        .unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let missing = fields(&[("pubsub#collection", "nope")]);
    let got = svc.create_node(&ent(OWNER), Some(&nn("x")), Some(&missing));
    assert_eq!(got.unwrap_err(), PubsubError::NodeNotFound);
    // Another entity's collection: only its owners may add children.
    let _ = svc.create_node(&ent(BOB), Some(&nn("mine")), None).unwrap();
    let into_root = fields(&[("pubsub#collection", "root")]);
    let got = svc
        .configure(&ent(BOB), &nn("mine"), &into_root)
        .unwrap_err();
    assert_eq!(got, PubsubError::Forbidden);
}

#[test]
fn deleting_a_collection_frees_its_children() {
    let mut svc = tree();
    let _ = svc.delete_node(&ent(OWNER), &nn("news"), None).unwrap();
    assert!(
        svc.node(&nn("sports"))
            .unwrap()
            .meta
            .config
            .collections
            .is_empty()
    );
}

#[test]
fn collections_survive_a_restart() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let mut svc = reopen(svc);
    assert_eq!(svc.children_of("root"), vec!["news", "weather"]);
    assert_eq!(
        routes(&publish(&mut svc, "weather", "w1")),
        vec![route("weather", "root", BOB)]
    );
}

#[test]
fn metadata_stored_before_collections_reads_as_a_leaf() {
    let svc = service_with_node(&[]);
    let n = svc.node(&nn(NODE)).unwrap();
    let blob = super::super::node::encode_meta(n.id, &n.meta).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
    let config = json["config"].as_object_mut().unwrap();
    assert!(config.remove("node_type").is_some());
    assert!(!config.contains_key("collections"));
    let old = serde_json::to_vec(&json).unwrap();
    let (_, meta) = super::super::node::decode_meta(NODE, &old).unwrap();
    assert_eq!(meta.config.node_type, NodeType::Leaf);
    assert!(meta.config.collections.is_empty());
}

#[test]
fn items_and_history_of_a_collection_are_not_implemented_yet() {
    let svc = tree();
    let want = PubsubError::UnsupportedFeature("retrieve-items");
    assert_eq!(svc.items(&ent(BOB), &nn("root"), None).unwrap_err(), want);
    let q = HistoryQuery::default();
    assert_eq!(svc.history(&ent(BOB), &nn("root"), &q).unwrap_err(), want);
}

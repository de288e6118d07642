//! §5.2 discover nodes, §5.4 meta-data, §5.6 subscriptions, §5.7 affiliations.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

#[test]
fn discover_nodes_lists_nodes_with_their_titles() {
    let svc = service_with_node(&[("pubsub#title", "Events")]);
    let nodes = svc.discover_nodes(&ent(BOB));
    let expected = NodeSummary {
        node: NODE.into(),
        title: "Events".into(),
    };
    assert_eq!(nodes, vec![expected]);
}

#[test]
fn discover_nodes_hides_whitelist_nodes_from_strangers_and_nodes_from_outcasts() {
    let mut svc = service_with_node(&[]);
    let f = fields(&[("pubsub#access_model", "whitelist")]);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn("secret")), Some(&f))
        .unwrap();
    set_affiliation(&mut svc, "eve@example.com", Affiliation::Outcast);
    assert_eq!(svc.discover_nodes(&ent(BOB)).len(), 1);
    assert_eq!(svc.discover_nodes(&ent(OWNER)).len(), 2);
    assert!(svc.discover_nodes(&ent("eve@example.com")).is_empty());
}

#[test]
fn node_metadata_lists_owners_publishers_and_config() {
    let mut svc = service_with_node(&[("pubsub#title", "Events")]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    subscribe(&mut svc, BOB);
    let meta = svc.node_metadata(&ent(BOB), &nn(NODE)).unwrap();
    let field = |var: &str| meta.fields.iter().find(|f| f.var == var).unwrap().clone();
    assert_eq!(field("pubsub#owner").values, vec![OWNER]);
    assert_eq!(field("pubsub#owner").field_type, FieldType::JidMulti);
    assert_eq!(field("pubsub#publisher").values, vec!["pub@example.com"]);
    assert_eq!(field("pubsub#title").values, vec!["Events"]);
    assert_eq!(field("pubsub#num_subscribers").values, vec!["1"]);
    assert!(meta.created_ms > 0);
}

#[test]
fn node_metadata_of_a_missing_node_is_not_found() {
    let svc = service();
    let err = svc.node_metadata(&ent(BOB), &nn("nope"));
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn node_metadata_for_an_outcast_is_refused() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Outcast);
    let err = svc.node_metadata(&ent(BOB), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn subscriptions_lists_every_jid_of_the_entity_on_all_or_one_node() {
    let mut svc = service_with_node(&[]);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn("other")), None)
        .unwrap();
    subscribe(&mut svc, BOB);
    let phone = jid("bob@example.com/phone");
    let _ = svc
        .subscribe(&ent(BOB), &nn("other"), &phone, None)
        .unwrap();
    assert_eq!(svc.subscriptions(&ent(BOB), None).unwrap().len(), 2);
    let one = svc.subscriptions(&ent(BOB), Some(&nn("other"))).unwrap();
    assert_eq!(
        (one.len(), &one[0].node, &one[0].jid),
        (1, &"other".to_owned(), &phone)
    );
    assert!(svc.subscriptions(&Actor::System, None).unwrap().is_empty());
}

#[test]
fn subscriptions_of_a_missing_node_are_not_found() {
    let svc = service();
    let err = svc.subscriptions(&ent(BOB), Some(&nn("nope")));
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn affiliations_lists_the_entitys_affiliations() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Member);
    let all = svc.affiliations(&ent(BOB), None).unwrap();
    assert_eq!(all, vec![(NODE.to_owned(), Affiliation::Member)]);
    assert!(
        svc.affiliations(&ent("x@example.com"), Some(&nn(NODE)))
            .unwrap()
            .is_empty()
    );
    let err = svc.affiliations(&ent(BOB), Some(&nn("nope")));
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

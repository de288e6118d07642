//! Node configuration parsing and rendering.

use super::*;

fn cfg() -> NodeConfig {
    NodeConfig::with_defaults(10)
}

fn apply(pairs: &[(&str, &str)]) -> Result<NodeConfig, ConfigError> {
    cfg().with_fields(&fields(pairs), 100)
}

#[test]
fn every_rendered_field_parses_back_to_the_same_config() {
    let mut c = cfg();
    c.item_expire = Some(60);
    c.max_items = MaxItems::Max;
    let echoed: Vec<FieldValues> = c
        .to_fields(5)
        .into_iter()
        .map(|f| (f.var, f.values))
        .collect();
    assert_eq!(
        NodeConfig::with_defaults(1)
            .with_fields(&echoed, 100)
            .unwrap(),
        c
    );
}

#[test]
fn booleans_accept_1_true_0_false_only() {
    assert!(
        apply(&[("pubsub#notify_config", "true")])
            .unwrap()
            .notify_config
    );
    assert!(
        !apply(&[("pubsub#persist_items", "0")])
            .unwrap()
            .persist_items
    );
    assert!(apply(&[("pubsub#persist_items", "yes")]).is_err());
}

#[test]
fn max_items_accepts_max_and_refuses_zero_and_over_cap() {
    assert_eq!(
        apply(&[("pubsub#max_items", "max")]).unwrap().max_items,
        MaxItems::Max
    );
    assert_eq!(MaxItems::Max.limit(100), 100);
    assert!(apply(&[("pubsub#max_items", "0")]).is_err());
    assert!(apply(&[("pubsub#max_items", "101")]).is_err());
}

#[test]
fn several_values_for_a_single_field_are_refused() {
    let f = vec![(
        "pubsub#title".to_owned(),
        vec!["a".to_owned(), "b".to_owned()],
    )];
    assert!(matches!(
        cfg().with_fields(&f, 100),
        Err(ConfigError::InvalidValue { .. })
    ));
}

#[test]
fn unknown_field_is_a_typed_error_naming_it() {
    let err = apply(&[("pubsub#nope", "1")]).unwrap_err();
    assert_eq!(err, ConfigError::UnknownField("pubsub#nope".into()));
    assert!(matches!(PubsubError::from(err), PubsubError::NotAcceptable(t) if t.contains("nope")));
}

#[test]
fn roster_groups_are_unsupported() {
    let err = apply(&[("pubsub#roster_groups_allowed", "friends")]).unwrap_err();
    assert_eq!(
        PubsubError::from(err),
        PubsubError::UnsupportedFeature("access-roster")
    );
}

#[test]
fn enumerated_fields_parse_their_values() {
    let c = apply(&[
        ("pubsub#access_model", "authorize"),
        ("pubsub#publish_model", "open"),
        ("pubsub#notification_type", "normal"),
        ("pubsub#send_last_published_item", "on_sub_and_presence"),
        ("pubsub#item_expire", "3600"),
        ("pubsub#type", "urn:x"),
    ])
    .unwrap();
    assert_eq!(c.access_model, AccessModel::Authorize);
    assert_eq!(c.publish_model, PublishModel::Open);
    assert_eq!(c.notification_type, NotificationType::Normal);
    assert_eq!(
        c.send_last_published_item,
        SendLastPublished::OnSubAndPresence
    );
    assert_eq!(
        (c.item_expire, c.payload_type.as_str()),
        (Some(3600), "urn:x")
    );
    assert!(apply(&[("pubsub#notification_type", "chat")]).is_err());
}

#[test]
fn affiliation_and_state_names_round_trip() {
    for a in [
        Affiliation::Owner,
        Affiliation::Publisher,
        Affiliation::PublishOnly,
        Affiliation::Member,
        Affiliation::None,
        Affiliation::Outcast,
    ] {
        assert_eq!(Affiliation::parse(a.as_str()), Some(a));
    }
    assert_eq!(
        SubscriptionState::parse("pending"),
        Some(SubscriptionState::Pending)
    );
    assert_eq!(SubscriptionState::Subscribed.as_str(), "subscribed");
}

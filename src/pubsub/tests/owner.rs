//! §8.1 create, §8.2 configure, §8.3 default, §8.4 delete, §8.5 purge.

use super::*;
use crate::pubsub::names::nn;

// ---- §8.1 create ----

#[test]
fn create_named_node_makes_creator_owner() {
    let mut svc = service();
    let out = svc.create_node(&ent(OWNER), Some(&nn("n")), None).unwrap();
    assert_eq!(out.reply, "n");
    let affs = svc.affiliations(&ent(OWNER), Some(&nn("n"))).unwrap();
    assert_eq!(affs, vec![("n".to_owned(), Affiliation::Owner)]);
}

#[test]
fn create_instant_node_generates_unique_names() {
    let mut svc = service();
    let a = svc.create_node(&ent(OWNER), None, None).unwrap().reply;
    let b = svc.create_node(&ent(OWNER), None, None).unwrap().reply;
    assert_ne!(a, b);
    assert_eq!(svc.discover_nodes(&ent(OWNER)).len(), 2);
}

#[test]
fn create_with_config_applies_the_fields() {
    let svc = service_with_node(&[("pubsub#title", "Orders"), ("pubsub#max_items", "3")]);
    let form = svc.node_config(&ent(OWNER), &nn(NODE)).unwrap();
    let value = |var: &str| form.iter().find(|f| f.var == var).unwrap().values.clone();
    assert_eq!(value("pubsub#title"), vec!["Orders"]);
    assert_eq!(value("pubsub#max_items"), vec!["3"]);
}

#[test]
fn create_by_system_and_admin_is_allowed_from_any_domain() {
    let mut svc = service();
    assert!(
        svc.create_node(&Actor::System, Some(&nn("a")), None)
            .is_ok()
    );
    assert!(svc.create_node(&ent(ADMIN), Some(&nn("b")), None).is_ok());
    assert!(
        svc.create_node(&ent("x@example.com"), Some(&nn("c")), None)
            .is_ok()
    );
}

#[test]
fn create_by_user_of_another_domain_is_forbidden() {
    let mut svc = service();
    let err = svc.create_node(&ent("eve@evil.org"), Some(&nn("n")), None);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn create_existing_node_is_a_conflict() {
    let mut svc = service_with_node(&[]);
    let err = svc.create_node(&ent(OWNER), Some(&nn(NODE)), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeExists);
}

#[test]
fn create_with_empty_name_requires_a_node_id() {
    // The type refuses it before the core is called (protocol answers an
    // empty node attribute with nodeid-required).
    assert!(crate::pubsub::NodeName::new("").is_err());
}

#[test]
fn create_with_nul_in_the_name_is_a_bad_request() {
    // The name rule refuses it before the core is called (bad-request).
    let err = crate::pubsub::NodeName::new(SERVICE_RECORD).unwrap_err();
    assert_eq!(err.kind(), crate::pubsub::names::NameKind::Node);
}

#[test]
fn create_with_unknown_config_field_is_not_acceptable_and_names_it() {
    let mut svc = service();
    let f = fields(&[("pubsub#colour", "red")]);
    match svc.create_node(&ent(OWNER), Some(&nn("n")), Some(&f)) {
        Err(PubsubError::NotAcceptable(text)) => assert!(text.contains("pubsub#colour")),
        other => panic!("{other:?}"),
    }
    assert!(svc.discover_nodes(&ent(OWNER)).is_empty());
}

#[test]
fn create_with_roster_access_model_is_unsupported() {
    let mut svc = service();
    let f = fields(&[("pubsub#access_model", "roster")]);
    let err = svc.create_node(&ent(OWNER), Some(&nn("n")), Some(&f));
    assert_eq!(
        err.unwrap_err(),
        PubsubError::UnsupportedFeature("access-roster")
    );
}

#[test]
fn create_beyond_max_nodes_is_refused() {
    let store = service().into_store();
    let limited = ServiceSettings {
        max_nodes: Some(1),
        ..settings()
    };
    let mut svc = Service::open(store, limited).unwrap();
    let _ = svc.create_node(&ent(OWNER), Some(&nn("a")), None).unwrap();
    let err = svc.create_node(&ent(OWNER), Some(&nn("b")), None);
    assert_eq!(err.unwrap_err(), PubsubError::MaxNodesExceeded);
}

#[test]
fn create_when_the_store_fails_leaves_no_node() {
    let mut svc = service();
    fail_writes(&svc, true);
    let err = svc.create_node(&ent(OWNER), Some(&nn("n")), None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert!(svc.discover_nodes(&Actor::System).is_empty());
}

// ---- §8.2 configure ----

#[test]
fn node_config_gives_typed_fields_with_list_options() {
    let svc = service_with_node(&[]);
    let form = svc.node_config(&ent(OWNER), &nn(NODE)).unwrap();
    let access = form
        .iter()
        .find(|f| f.var == "pubsub#access_model")
        .unwrap();
    assert_eq!(access.field_type, FieldType::ListSingle);
    assert!(access.options.contains(&"whitelist".to_owned()));
    let persist = form
        .iter()
        .find(|f| f.var == "pubsub#persist_items")
        .unwrap();
    assert_eq!(persist.field_type, FieldType::Boolean);
    let size = form
        .iter()
        .find(|f| f.var == "pubsub#max_payload_size")
        .unwrap();
    assert_eq!(size.value(), Some("100"));
}

#[test]
fn node_config_by_non_owner_is_forbidden() {
    let svc = service_with_node(&[]);
    let err = svc.node_config(&ent("bob@example.com"), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn node_config_of_missing_node_is_not_found() {
    let svc = service();
    let err = svc.node_config(&ent(OWNER), &nn("nope"));
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn configure_notifies_subscribers_when_notify_config_is_on() {
    let mut svc = service_with_node(&[("pubsub#notify_config", "1")]);
    subscribe(&mut svc, "bob@example.com");
    let f = fields(&[("pubsub#title", "New")]);
    let out = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    assert_eq!(recipients(&out), vec!["bob@example.com"]);
    let Event::Configuration { fields: Some(form) } = &out.notifications[0].event else {
        panic!("{:?}", out.notifications);
    };
    assert!(
        form.iter()
            .any(|f| f.var == "pubsub#title" && f.value() == Some("New"))
    );
}

#[test]
fn configure_without_notify_config_notifies_nobody() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "bob@example.com");
    let f = fields(&[("pubsub#title", "New")]);
    let out = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn configure_accepts_an_echoed_form_with_form_type_and_read_only_fields() {
    let mut svc = service_with_node(&[]);
    let mut form: Vec<FieldValues> = (svc.node_config(&ent(OWNER), &nn(NODE)).unwrap())
        .into_iter()
        .map(|f| (f.var, f.values))
        .collect();
    form.push((
        FORM_TYPE.into(),
        vec!["http://jabber.org/protocol/pubsub#node_config".into()],
    ));
    form.push(("pubsub#roster_groups_allowed".into(), vec![]));
    assert!(svc.configure(&ent(OWNER), &nn(NODE), &form).is_ok());
}

#[test]
fn configure_with_bad_value_is_not_acceptable() {
    let mut svc = service_with_node(&[]);
    let f = fields(&[("pubsub#persist_items", "maybe")]);
    let err = svc.configure(&ent(OWNER), &nn(NODE), &f);
    assert!(matches!(err, Err(PubsubError::NotAcceptable(t)) if t.contains("persist_items")));
}

#[test]
fn configure_max_items_above_the_cap_is_not_acceptable() {
    let mut svc = service_with_node(&[]);
    let f = fields(&[("pubsub#max_items", "101")]);
    let err = svc.configure(&ent(OWNER), &nn(NODE), &f);
    assert!(matches!(err, Err(PubsubError::NotAcceptable(_))));
}

#[test]
fn configure_lowering_max_items_trims_the_oldest_items() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b", "c", "d"]);
    let f = fields(&[("pubsub#max_items", "2")]);
    let _ = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["c", "d"], 2));
}

#[test]
fn configure_by_non_owner_is_forbidden_and_by_outcast_refused() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "eve@example.com", Affiliation::Outcast);
    let f = fields(&[("pubsub#title", "x")]);
    let bob = svc.configure(&ent("bob@example.com"), &nn(NODE), &f);
    assert_eq!(bob.unwrap_err(), PubsubError::Forbidden);
    let eve = svc.configure(&ent("eve@example.com"), &nn(NODE), &f);
    assert_eq!(eve.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn configure_when_the_store_fails_keeps_the_old_config() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let f = fields(&[("pubsub#title", "New")]);
    let err = svc.configure(&ent(OWNER), &nn(NODE), &f);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    fail_writes(&svc, false);
    let form = svc.node_config(&ent(OWNER), &nn(NODE)).unwrap();
    assert_eq!(form[0].value(), Some(""));
}

// ---- §8.3 default ----

#[test]
fn default_config_uses_the_default_max_items() {
    let svc = service();
    let form = svc.default_config();
    let max = form.iter().find(|f| f.var == "pubsub#max_items").unwrap();
    assert_eq!(max.value(), Some("10"));
}

// ---- §8.4 delete ----

#[test]
fn delete_node_notifies_subscribers_with_the_redirect() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .delete_node(&ent(OWNER), &nn(NODE), Some("xmpp:x?;node=new"))
        .unwrap();
    let redirect = Some("xmpp:x?;node=new".to_owned());
    assert_eq!(out.notifications[0].event, Event::Delete { redirect });
    assert_eq!(
        svc.items(&ent(OWNER), &nn(NODE), None),
        Err(PubsubError::NodeNotFound)
    );
}

#[test]
fn delete_node_with_notify_delete_off_notifies_nobody() {
    let mut svc = service_with_node(&[("pubsub#notify_delete", "0")]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc.delete_node(&ent(OWNER), &nn(NODE), None).unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn delete_node_by_publisher_is_forbidden() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    let err = svc.delete_node(&ent("pub@example.com"), &nn(NODE), None);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn delete_missing_node_is_not_found() {
    let mut svc = service();
    let err = svc.delete_node(&ent(OWNER), &nn("nope"), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn delete_when_the_store_fails_keeps_the_node() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let err = svc.delete_node(&ent(OWNER), &nn(NODE), None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert_eq!(svc.discover_nodes(&Actor::System).len(), 1);
}

#[test]
fn recreated_node_does_not_see_items_of_the_deleted_one() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    let _ = svc.delete_node(&ent(OWNER), &nn(NODE), None).unwrap();
    let mut svc = reopen(svc);
    let _ = svc.create_node(&ent(OWNER), Some(&nn(NODE)), None).unwrap();
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 0);
}

// ---- §8.5 purge ----

#[test]
fn purge_removes_every_item_and_notifies_subscribers() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    assert_eq!(out.notifications[0].event, Event::Purge);
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((page.items.len(), page.total), (0, 0));
}

#[test]
fn purge_with_notify_retract_off_notifies_nobody() {
    let mut svc = service_with_node(&[("pubsub#notify_retract", "0")]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn purge_by_publisher_is_forbidden() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    let err = svc.purge(&ent("pub@example.com"), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn purge_of_missing_node_is_not_found() {
    let mut svc = service();
    assert_eq!(
        svc.purge(&ent(OWNER), &nn("nope")).unwrap_err(),
        PubsubError::NodeNotFound
    );
}

#[test]
fn purge_when_the_store_fails_keeps_the_items() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    fail_writes(&svc, true);
    assert!(matches!(
        svc.purge(&ent(OWNER), &nn(NODE)),
        Err(PubsubError::Internal(_))
    ));
    fail_writes(&svc, false);
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 1);
}

// ---- long purges and deletes report their steps ----

/// Records what the core reports.
#[derive(Clone, Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl crate::pubsub::Progress for Recorder {
    fn begin(&self, kind: &'static str, target: &str, total: u64) -> Box<dyn crate::pubsub::Step> {
        self.0
            .lock()
            .unwrap()
            .push(format!("begin {kind} {target} {total}"));
        Box::new(self.clone())
    }
}

impl crate::pubsub::Step for Recorder {
    fn advance(&mut self, done: u64) {
        self.0.lock().unwrap().push(format!("at {done}"));
    }
    fn end(self: Box<Self>, result: Result<u64, String>) {
        self.0.lock().unwrap().push(format!("end {result:?}"));
    }
}

fn large_node(items: usize) -> (Svc, Recorder) {
    let store = TestStore {
        inner: crate::store::MemoryStore::new(),
        fail: Default::default(),
    };
    let wide = ServiceSettings {
        max_items_cap: 50_000,
        max_payload_bytes: 1000,
        ..settings()
    };
    let mut svc = Service::open(store, wide).unwrap();
    svc.set_now(NOW_MS);
    let f = fields(&[("pubsub#max_items", "50000")]);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn(NODE)), Some(&f))
        .unwrap();
    let ids: Vec<String> = (0..items).map(|i| format!("i{i}")).collect();
    for chunk in ids.chunks(1000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        publish_ids(&mut svc, &refs);
    }
    let recorder = Recorder::default();
    svc.set_progress(Box::new(recorder.clone()));
    (svc, recorder)
}

#[test]
fn a_large_purge_goes_in_steps_and_reports_each() {
    let (mut svc, seen) = large_node(12_000);
    let _ = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.first().unwrap(), &format!("begin purge {NODE} 12000"));
    assert_eq!(seen[1], "at 2000");
    assert_eq!(seen[seen.len() - 2], "at 12000");
    assert_eq!(seen.last().unwrap(), "end Ok(12000)");
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 0);
}

#[test]
fn a_large_delete_reports_too_and_a_failure_ends_the_operation() {
    let (mut svc, seen) = large_node(10_000);
    let _ = svc.delete_node(&ent(OWNER), &nn(NODE), None).unwrap();
    let got = seen.0.lock().unwrap().clone();
    assert_eq!(got.first().unwrap(), &format!("begin delete {NODE} 10000"));
    assert_eq!(got.last().unwrap(), "end Ok(10000)");

    let (mut svc, seen) = large_node(10_000);
    svc.persist_high_water(NODE).unwrap(); // so the first write to fail is a step's
    fail_writes(&svc, true);
    assert!(svc.purge(&ent(OWNER), &nn(NODE)).is_err());
    let got = seen.0.lock().unwrap().clone();
    assert!(got.last().unwrap().starts_with("end Err("), "{got:?}");
}

#[test]
fn a_small_purge_is_not_reported() {
    let (mut svc, seen) = large_node(10);
    let _ = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    assert!(seen.0.lock().unwrap().is_empty());
}

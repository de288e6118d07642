"""XEP-0060 §8.1-8.5 owner use cases through the real ejabberd: create
(named, instant, with configuration), configure, default configuration,
delete and purge, each with the errors the XEP lists.

Every scenario uses at least two real c2s clients (owner and another
entity); requests and notifications travel client -> ejabberd -> Herald
(XEP-0114) -> ejabberd -> client. §8.8/8.9 are in
test_pubsub_owner_manage.py, node options in test_pubsub_owner_options.py.
"""

from __future__ import annotations

import pytest

from heraldtest.events import (QUIET, configuration_event, delete_event, events_for,
                               purge_event, wait_event, wait_item)
from heraldtest.forms import NODE_CONFIG, field, form_values
from heraldtest.owner import (affiliations_of, config_of, configure_cancel, configure_get,
                              configure_ok, configure_set, create, create_ok, default_config,
                              delete, disco_meta, form_of, item_ids, items, publish_ok, purge,
                              set_affiliation, subscribe, subscribe_ok, subscriptions_of)
from heraldtest.replies import assert_error, assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_DISCO_INFO, tostring

# Fields Herald's configuration form must carry (XEP-0060 §16.4 names).
CONFIG_VARS = {
    "FORM_TYPE", "pubsub#title", "pubsub#type", "pubsub#access_model",
    "pubsub#publish_model", "pubsub#max_items", "pubsub#persist_items",
    "pubsub#deliver_payloads", "pubsub#deliver_notifications",
    "pubsub#notify_retract", "pubsub#notify_delete", "pubsub#notify_config",
    "pubsub#notification_type", "pubsub#send_last_published_item",
    "pubsub#item_expire", "pubsub#max_payload_size",
    "pubsub#node_type", "pubsub#collection",
}


@pytest.fixture
def alice(herald, connect):
    return connect("alice")


@pytest.fixture
def bob(herald, connect):
    return connect("bob")


# --- §8.1 create ------------------------------------------------------------

def test_create_named_node(alice, bob, unique_name):
    node = unique_name("named")
    reply = assert_result(create(alice, node))
    created = reply.find("ps:pubsub/ps:create", NS)
    # §8.1.2: the service MAY omit the node; Herald always names it.
    assert created is None or created.get("node") == node, tostring(reply)
    assert affiliations_of(alice, node) == {"alice@localhost": "owner"}
    # The other client sees the node and may use it.
    info = assert_result(bob.disco_info(SERVICE, node))
    ident = info.find(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}identity")
    assert (ident.get("category"), ident.get("type")) == ("pubsub", "leaf")
    subscribe_ok(bob, node)
    item = publish_ok(alice, node, "first")
    wait_item(bob, node, item)


def test_create_instant_node(alice, bob):
    reply = assert_result(create(alice, None))
    created = reply.find("ps:pubsub/ps:create", NS)
    assert created is not None, f"§8.1.3: instant node reply must name the node: {tostring(reply)}"
    node = created.get("node")
    assert node, tostring(reply)
    assert affiliations_of(alice, node) == {"alice@localhost": "owner"}
    assert_result(bob.disco_info(SERVICE, node))
    # A second instant node gets another name.
    other = create_ok(bob, None)
    assert other and other != node


def test_create_and_configure(alice, bob, unique_name):
    node = unique_name("cc")
    create_ok(alice, node, {"pubsub#title": "Build events",
                            "pubsub#access_model": "whitelist",
                            "pubsub#max_items": "7",
                            "pubsub#notification_type": "normal"})
    fields = config_of(alice, node)
    assert field(fields, "pubsub#title") == "Build events"
    assert field(fields, "pubsub#access_model") == "whitelist"
    assert field(fields, "pubsub#max_items") == "7"
    assert field(fields, "pubsub#notification_type") == "normal"
    # The form took effect: bob is not on the whitelist.
    assert_error(subscribe(bob, node), "cancel", "not-allowed", "closed-node")


def test_create_and_configure_empty_form_gives_defaults(alice, bob, unique_name):
    node = unique_name("cc-empty")
    assert_result(create(alice, node, raw_config=""))
    defaults = form_values(form_of(assert_result(default_config(bob)),
                                 "pso:pubsub/pso:default/x:x"))
    assert config_of(alice, node) == defaults


def test_create_existing_node_conflict(alice, bob, unique_name):
    node = unique_name("dup")
    create_ok(alice, node)
    assert_error(create(bob, node), "cancel", "conflict")
    assert_error(create(alice, node), "cancel", "conflict")
    assert affiliations_of(alice, node) == {"alice@localhost": "owner"}


def test_create_not_allowed_without_create_rights(herald_factory, connect, unique_name):
    herald_factory(config={"pubsub": {"create_domains": []}})
    admin, alice = connect("admin"), connect("alice")
    assert_error(create(alice, unique_name("nope")), "auth", "forbidden")
    assert_error(create(alice, None), "auth", "forbidden")
    node = unique_name("admin")
    create_ok(admin, node)
    # alice may still use the node the admin created.
    subscribe_ok(alice, node)


def test_create_with_unknown_config_field_not_acceptable(alice, bob, unique_name):
    node = unique_name("badcfg")
    assert_error(create(alice, node, {"pubsub#no_such_option": "1"}),
                 "modify", "not-acceptable")
    assert_error(create(alice, node, {"pubsub#max_items": "lots"}),
                 "modify", "not-acceptable")
    # Nothing was created: the name is still free.
    assert_error(bob.disco_info(SERVICE, node), "cancel", "item-not-found")
    create_ok(bob, node)


# --- §8.2 configure ---------------------------------------------------------

def test_configure_get_form(alice, bob, unique_name):
    node = unique_name("cfg")
    create_ok(alice, node)
    reply = assert_result(configure_get(alice, node))
    conf = reply.find("pso:pubsub/pso:configure", NS)
    assert conf.get("node") == node
    x = form_of(reply, "pso:pubsub/pso:configure/x:x")
    assert x.get("type") == "form"
    fields = form_values(x)
    assert field(fields, "FORM_TYPE") == NODE_CONFIG
    assert CONFIG_VARS <= set(fields), set(CONFIG_VARS) - set(fields)
    # Defaults (§8.3 values, as Herald documents them).
    assert field(fields, "pubsub#access_model") == "open"
    assert field(fields, "pubsub#publish_model") == "publishers"
    assert field(fields, "pubsub#notification_type") == "headline"
    assert field(fields, "pubsub#send_last_published_item") == "never"
    # FORM_TYPE is hidden; list fields list their options.
    types = {f.get("var"): f.get("type") for f in x.findall("x:field", NS)}
    assert types["FORM_TYPE"] == "hidden"
    assert types["pubsub#access_model"] == "list-single"
    assert types["pubsub#deliver_payloads"] == "boolean"
    opts = {o.findtext("x:value", namespaces=NS)
            for f in x.findall("x:field", NS) if f.get("var") == "pubsub#access_model"
            for o in f.findall("x:option", NS)}
    assert {"open", "whitelist"} <= opts


def test_configure_submit_changes(alice, bob, unique_name):
    node = unique_name("cfg-set")
    create_ok(alice, node)
    reply = configure_set(alice, node, {"pubsub#title": "Deploys",
                                        "pubsub#type": "urn:example:deploy",
                                        "pubsub#max_items": "42",
                                        "pubsub#publish_model": "open",
                                        "pubsub#notify_retract": "0"})
    assert_result(reply)
    fields = config_of(alice, node)
    assert field(fields, "pubsub#title") == "Deploys"
    assert field(fields, "pubsub#type") == "urn:example:deploy"
    assert field(fields, "pubsub#max_items") == "42"
    assert field(fields, "pubsub#publish_model") == "open"
    assert field(fields, "pubsub#notify_retract") in ("0", "false")
    # Visible to the other client, and in effect: bob may now publish.
    meta = disco_meta(bob, node)
    assert field(meta, "pubsub#title") == "Deploys"
    publish_ok(bob, node, "by-bob")


def test_configure_cancel(alice, bob, unique_name):
    node = unique_name("cfg-cancel")
    create_ok(alice, node, {"pubsub#title": "before"})
    before = config_of(alice, node)
    assert_result(configure_cancel(alice, node))
    assert config_of(alice, node) == before
    # Cancel still requires ownership.
    assert_error(configure_cancel(bob, node), "auth", "forbidden")


def test_configure_non_owner_forbidden(alice, bob, connect, unique_name):
    node = unique_name("cfg-forbidden")
    create_ok(alice, node, {"pubsub#title": "mine"})
    carol = connect("carol")
    set_affiliation(alice, node, "carol@localhost", "publisher")
    for who in (bob, carol):
        assert_error(configure_get(who, node), "auth", "forbidden")
        assert_error(configure_set(who, node, {"pubsub#title": "theirs"}), "auth", "forbidden")
    assert field(config_of(alice, node), "pubsub#title") == "mine"


def test_configure_missing_node(alice, bob, unique_name):
    node = unique_name("cfg-missing")
    assert_error(configure_get(alice, node), "cancel", "item-not-found")
    assert_error(configure_set(bob, node, {"pubsub#title": "x"}), "cancel", "item-not-found")


def test_configure_without_node_nodeid_required(alice):
    assert_error(configure_get(alice, None), "modify", "bad-request", "nodeid-required")


@pytest.mark.parametrize("var,value", [
    ("pubsub#max_items", "many"),
    ("pubsub#max_items", "0"),
    ("pubsub#access_model", "everyone"),
    ("pubsub#deliver_payloads", "perhaps"),
    ("pubsub#notification_type", "chat"),
    ("pubsub#send_last_published_item", "always"),
    ("pubsub#item_expire", "soon"),
    ("pubsub#no_such_option", "1"),
])
def test_configure_invalid_value_not_acceptable(alice, bob, unique_name, var, value):
    node = unique_name("cfg-bad")
    create_ok(alice, node, {"pubsub#title": "kept"})
    before = config_of(alice, node)
    # A valid change in the same form is not applied either.
    reply = configure_set(alice, node, {"pubsub#title": "changed", var: value})
    assert_error(reply, "modify", "not-acceptable")
    assert config_of(alice, node) == before
    assert field(disco_meta(bob, node), "pubsub#title") == "kept"


def test_configure_roster_access_unsupported(alice, unique_name):
    node = unique_name("cfg-roster")
    create_ok(alice, node)
    reply = configure_set(alice, node, {"pubsub#access_model": "roster"})
    assert_error(reply, "cancel", "feature-not-implemented", "unsupported")
    err = reply.find("c:error", NS)
    assert err.find("pserr:unsupported", NS).get("feature") == "access-roster"


def test_configure_notify_config_sends_configuration(alice, bob, connect, unique_name):
    node = unique_name("notify-config")
    create_ok(alice, node)
    carol = connect("carol")
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    configure_ok(alice, node, {"pubsub#notify_config": "1", "pubsub#title": "v2"})
    for who in (bob, carol):
        msg = wait_event(who, configuration_event(node))
        assert msg.get("from") == SERVICE
        # deliver_payloads is on: the notification carries the new form.
        x = msg.find("pse:event/pse:configuration/x:x", NS)
        assert x is not None, tostring(msg)
        fields = form_values(x)
        assert field(fields, "FORM_TYPE") == NODE_CONFIG
        assert field(fields, "pubsub#title") == "v2"
    # Without payloads: a bare <configuration node=.../>.
    configure_ok(alice, node, {"pubsub#deliver_payloads": "0", "pubsub#title": "v3"})
    msg = wait_event(bob, configuration_event(node))
    assert msg.find("pse:event/pse:configuration/x:x", NS) is None, tostring(msg)


def test_configure_without_notify_config_sends_nothing(alice, bob, unique_name):
    node = unique_name("quiet-config")
    create_ok(alice, node)
    subscribe_ok(bob, node)
    configure_ok(alice, node, {"pubsub#title": "silent"})
    item = publish_ok(alice, node, "sentinel")
    wait_item(bob, node, item)   # sent after any configuration notification
    assert [m for m in events_for(bob, node, 0.2)
            if m.find("pse:event/pse:configuration", NS) is not None] == []


# --- §8.3 default configuration ----------------------------------------------

def test_default_config(alice, bob, unique_name):
    reply = assert_result(default_config(alice))
    x = form_of(reply, "pso:pubsub/pso:default/x:x")
    assert x.get("type") == "form"
    defaults = form_values(x)
    assert field(defaults, "FORM_TYPE") == NODE_CONFIG
    assert CONFIG_VARS <= set(defaults)
    assert field(defaults, "pubsub#access_model") == "open"
    # The same for every entity, and what a new node gets.
    assert form_values(form_of(assert_result(default_config(bob)),
                             "pso:pubsub/pso:default/x:x")) == defaults
    node = create_ok(bob, unique_name("dflt"))
    assert config_of(bob, node) == defaults


def test_default_config_for_collection(alice):
    # XEP-0248 §5.1: the defaults of a collection (collections are
    # supported since issue 17; test_collections.py covers them).
    reply = assert_result(alice.iq(f"<iq type='get' to='{SERVICE}'>"
                                   "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
                                   "<default type='collection'/></pubsub></iq>"))
    defaults = form_values(form_of(reply, "pso:pubsub/pso:default/x:x"))
    assert field(defaults, "pubsub#node_type") == "collection"
    assert defaults.get("pubsub#children") == []


# --- §8.4 delete --------------------------------------------------------------

def test_delete_notifies_subscribers(alice, bob, connect, unique_name):
    node = unique_name("del")
    create_ok(alice, node)
    carol = connect("carol")
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    publish_ok(alice, node, "doomed")
    assert_result(delete(alice, node))
    for who in (bob, carol):
        msg = wait_event(who, delete_event(node))
        assert msg.get("from") == SERVICE
        assert msg.find("pse:event/pse:delete/pse:redirect", NS) is None
    # The node and its items are gone for everyone.
    assert_error(items(bob, node), "cancel", "item-not-found")
    assert_error(bob.disco_info(SERVICE, node), "cancel", "item-not-found")
    assert_error(configure_get(alice, node), "cancel", "item-not-found")
    assert_error(delete(alice, node), "cancel", "item-not-found")
    # The name is free again; the new node has no old items or subscribers.
    create_ok(carol, node)
    assert item_ids(carol, node) == []
    assert subscriptions_of(carol, node) == {}
    assert affiliations_of(carol, node) == {"carol@localhost": "owner"}


def test_delete_with_redirect(alice, bob, unique_name):
    node, successor = unique_name("old"), unique_name("new")
    create_ok(alice, node)
    create_ok(alice, successor)
    subscribe_ok(bob, node)
    uri = f"xmpp:{SERVICE}?;node={successor}"
    assert_result(delete(alice, node, redirect=uri))
    msg = wait_event(bob, delete_event(node))
    redirect = msg.find("pse:event/pse:delete/pse:redirect", NS)
    assert redirect is not None and redirect.get("uri") == uri, tostring(msg)


def test_delete_notify_delete_false_sends_nothing(alice, bob, unique_name):
    node, other = unique_name("del-quiet"), unique_name("sentinel")
    create_ok(alice, node, {"pubsub#notify_delete": "0"})
    create_ok(alice, other)
    subscribe_ok(bob, node)
    subscribe_ok(bob, other)
    assert_result(delete(alice, node))
    item = publish_ok(alice, other, "after-delete")
    wait_item(bob, other, item)   # the outbox is ordered: a delete would be here by now
    assert events_for(bob, node, 0.2) == []


def test_delete_non_owner_forbidden(alice, bob, connect, unique_name):
    node = unique_name("del-forbidden")
    create_ok(alice, node)
    carol = connect("carol")
    set_affiliation(alice, node, "carol@localhost", "publisher")
    subscribe_ok(bob, node)
    assert_error(delete(bob, node), "auth", "forbidden")
    assert_error(delete(carol, node), "auth", "forbidden")
    assert_error(delete(bob, unique_name("missing")), "cancel", "item-not-found")
    # Still there, bob still subscribed.
    item = publish_ok(carol, node, "alive")
    wait_item(bob, node, item)


# --- §8.5 purge ---------------------------------------------------------------

def test_purge_notifies_and_removes_items(alice, bob, connect, unique_name):
    node = unique_name("purge")
    create_ok(alice, node)
    carol = connect("carol")
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    for i in range(3):
        publish_ok(alice, node, f"i{i}")
    assert item_ids(bob, node) != []
    assert_result(purge(alice, node))
    for who in (bob, carol):
        msg = wait_event(who, purge_event(node))
        assert msg.get("from") == SERVICE
    assert item_ids(bob, node) == []
    assert item_ids(alice, node) == []
    # The node itself remains and takes new items; subscriptions are kept.
    item = publish_ok(alice, node, "after-purge")
    wait_item(carol, node, item)
    assert item_ids(bob, node) == [item]


def test_purge_non_owner_forbidden(alice, bob, connect, unique_name):
    node = unique_name("purge-forbidden")
    create_ok(alice, node)
    carol = connect("carol")
    set_affiliation(alice, node, "carol@localhost", "publisher")
    publish_ok(carol, node, "kept")
    subscribe_ok(bob, node)
    assert_error(purge(carol, node), "auth", "forbidden")   # publishers can't purge
    assert_error(purge(bob, node), "auth", "forbidden")
    assert_error(purge(alice, unique_name("missing")), "cancel", "item-not-found")
    assert item_ids(bob, node) == ["kept"]
    assert [m for m in events_for(bob, node, QUIET)
            if m.find("pse:event/pse:purge", NS) is not None] == []

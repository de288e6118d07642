"""Herald's Python test clients, one package for tests/integration/ and
bench/ (see xep-notes/decisions.md, "One Python test-client package").

    sandbox   SERVICE (Herald's JID), DOMAIN, PASSWORD, ports
    stanza    namespaces, E()/parse()/tostring(), esc() (the one escaping)
    client    the raw-XML c2s Client, Component, errors, ensure_user
    forms     form(form_type, fields) (the one form builder), form_values
    replies   assert_result, assert_error, pubsub_child
    events    named notification matchers (items_event(node), ...), wait_event
    entity    XEP-0060 entity use cases (create, publish, subscribe, items)
    owner     XEP-0060 owner use cases (configure, delete, purge, affiliations)
    ops       durability/fsync helpers (pipelined publish, RSM paging)
    catchup   RSM and MAM catch-up queries
    queueing  XEP-0254-style consumer groups (Consumer threads, Ledger)
    muc       MUC rooms and chat commands
    slix      slixmpp set up for the sandbox
    ingest    HTTP ingest requests, the shared test tokens, /metrics reading
    harness   the Ejabberd and Herald processes
    tcpproxy  a controllable TCP proxy for link tests
"""

from heraldtest.sandbox import DOMAIN, PASSWORD, SERVICE

__all__ = ["DOMAIN", "PASSWORD", "SERVICE"]

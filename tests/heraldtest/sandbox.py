"""Names and ports of the test sandbox, defined once for the tests, the
test clients and bench/: the component's JID (SERVICE), the user domain,
the shared password and the ports (from the HERALD_* variables that
ejabberd-config/ejabberd-up.sh also reads)."""

from __future__ import annotations

import os

# Herald's component JID: every request the tests send goes here.
SERVICE = "events.localhost"
# ejabberd's own mod_pubsub on the same server (bench compares against it).
EJABBERD_PUBSUB = "pubsub.localhost"
DOMAIN = "localhost"
PASSWORD = "pass"
TEST_USERS = ["alice", "bob", "carol", "dave", "admin"]
PROBE_USER = "herald-probe"   # used only by Herald readiness checks

C2S_PORT = int(os.environ.get("HERALD_C2S_PORT", "15222"))
COMPONENT_PORT = int(os.environ.get("HERALD_COMPONENT_PORT", "15347"))
COMPONENT_SECRET = os.environ.get("HERALD_COMPONENT_SECRET", "herald-dev-secret")

"""Herald through the JavaScript clients people use, next to slixmpp:
xmpp.js (`@xmpp/client`, c2s over TCP) and stanza.js (`stanza`, over
ejabberd's websocket). Each flow (tests/js/*_flow.mjs) subscribes, sees
live events, disconnects, and catches up by RSM after the last item ID
and by MAM after the last stanza-id; the test checks the lists are exact
and in order. `scripts/test.sh` runs `npm ci` in tests/js when needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from heraldtest.harness import REPO
from heraldtest.sandbox import C2S_PORT, SERVICE

JS = REPO / "tests" / "js"
HTTP_PORT = int(os.environ.get("HERALD_HTTP_PORT", "15280"))
LIVE = ["l1", "l2", "l3"]
MISSED = [f"m{i:02d}" for i in range(1, 26)]   # 25: three RSM/MAM pages of 10


def run_flow(script: str, node: str) -> dict:
    # A by-hand run may lack the JS clients; CI (scripts/test.sh installs
    # them) must not pass by skipping.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if shutil.which("node") is None:
        missing("node is not installed (scripts/test.sh installs the JS clients)")
    if not (JS / "node_modules").is_dir():
        missing("tests/js/node_modules missing: run `npm ci` in tests/js")
    env = dict(os.environ, HERALD_SERVICE=SERVICE, HERALD_NODE=node,
               HERALD_C2S_PORT=str(C2S_PORT), HERALD_HTTP_PORT=str(HTTP_PORT),
               HERALD_LIVE=",".join(LIVE), HERALD_MISSED=",".join(MISSED))
    out = subprocess.run(["node", script], cwd=JS, env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"{script} failed:\n{out.stderr[-4000:]}\n{out.stdout[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_catch_up(result: dict) -> None:
    assert result["live"] == LIVE
    assert all(result["sids"]) and len(set(result["sids"])) == len(LIVE), result["sids"]
    assert result["rsm"] == MISSED, "RSM after the last item ID: exact and in order"
    assert result["mam"] == MISSED, "MAM after the last stanza-id: exact and in order"


@pytest.mark.timeout(180)
def test_stanzajs_subscribe_live_disconnect_catch_up(herald, users, unique_name):
    result = run_flow("stanzajs_flow.mjs", unique_name("stanzajs"))
    check_catch_up(result)
    assert result["newest"] == MISSED[-3:], "getItems({max: 3}) is the newest 3"


@pytest.mark.timeout(180)
def test_xmppjs_subscribe_live_disconnect_catch_up(herald, users, unique_name):
    check_catch_up(run_flow("xmppjs_flow.mjs", unique_name("xmppjs")))

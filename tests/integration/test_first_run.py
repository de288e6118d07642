"""Issue 14, first run: Herald on the dev config (herald.dev.toml, what
scripts/run-dev.sh runs) takes the README's first-run curl and `herald
publish` lines as written, and scripts/dev-welcome.sh creates the demo node
and prints the token and what to try next.

Only what a test cannot share with a developer's running dev Herald is
changed: the ejabberd component port, the data directory and the HTTP port
(the README's http://127.0.0.1:8080 becomes this Herald's address).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib

from heraldtest.entity import items_ok, subscribe_ok
from heraldtest.events import items_in
from heraldtest.harness import REPO

NS_JSON = "urn:xmpp:json:0"
DEV_URL = "http://127.0.0.1:8080"


def dev_config() -> dict:
    """herald.dev.toml without the keys the test harness owns."""
    config = tomllib.loads((REPO / "herald.dev.toml").read_text())
    for key in ("host", "port", "secret"):
        config["component"].pop(key)
    config["http"].pop("listen")
    config["storage"].pop("data_dir")
    return config


def dev_token() -> str:
    return dev_config()["http"]["tokens"]["dev"]["token"]


def first_run_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("<!-- first-run -->")[1].split("<!-- /first-run -->")[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, section
    return blocks[0]


def test_dev_config_passes_check_config_as_shipped(herald_bin):
    out = subprocess.run([str(herald_bin), "check-config", "--config", str(REPO / "herald.dev.toml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_first_run_works_on_the_dev_config(herald_factory, herald_bin, connect, tmp_path):
    h = herald_factory(config=dev_config())
    block = first_run_block()
    # The README states the dev token and address the dev config uses.
    assert f"HERALD_TOKEN={dev_token()}" in block and DEV_URL in block

    # What run-dev.sh runs once Herald is up.
    welcome = subprocess.run(["bash", str(REPO / "scripts" / "dev-welcome.sh")],
                             env=dict(os.environ, HERALD_URL=h.http_url, HERALD_TOKEN=dev_token()),
                             capture_output=True, text=True, timeout=60)
    assert welcome.returncode == 0, welcome.stdout + welcome.stderr
    assert dev_token() in welcome.stdout and "subscribe demo" in welcome.stdout, welcome.stdout
    alice = connect("alice")
    assert [i.get("id") for i in items_ok(alice, "demo")] == ["welcome"]

    bob = connect("bob")
    subscribe_ok(bob, "demo", "bob@localhost")
    # `target/release/herald` as written: this checkout's debug build stands in.
    release = tmp_path / "target" / "release"
    release.mkdir(parents=True)
    (release / "herald").symlink_to(herald_bin)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block.replace(DEV_URL, h.http_url)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items()
                              if k not in ("HERALD_URL", "HERALD_TOKEN")})
    assert run.returncode == 0, f"{block}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    acks = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [a["seq"] for a in acks] == [2, 3], run.stdout

    got = items_in(bob.messages(timeout=3))
    payloads = [json.loads(i.find(f"{{{NS_JSON}}}json").text) for i in got]
    assert [p["action"] for p in payloads] == ["created", "scaled"], payloads

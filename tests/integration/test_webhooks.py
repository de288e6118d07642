"""Issue 13, webhooks: the endpoint API against a real Herald: managing
endpoints, the secret format (checked with the `standardwebhooks`
library, not Herald's code), the private-URL refusal, rotation, owner
isolation, and durability of the records across a SIGKILL. Delivery
itself: test_webhook_delivery.py.
"""

from __future__ import annotations

import datetime

import pytest
from standardwebhooks.webhooks import Webhook

from heraldtest.harness import Herald
from heraldtest.ingest import request

HOOKS = "hooks-token-0123456789abc"
OTHER = "other-hooks-token-0123456"
PUBLISH_ONLY = "publish-only-token-01234"
TOKENS = {
    "hooks": {"token": HOOKS, "nodes": ["apps", "billing.*"], "scopes": ["webhooks"]},
    "other": {"token": OTHER, "nodes": ["*"], "scopes": ["webhooks"]},
    "pub": {"token": PUBLISH_ONLY, "nodes": ["*"]},
}
RECEIVER = "http://127.0.0.1:9/in"


def config(allow_private: bool) -> dict:
    return {"http": {"tokens": TOKENS}, "webhooks": {"allow_private": allow_private}}


@pytest.fixture
def herald(herald_factory) -> Herald:
    return herald_factory(config=config(True))


def create(h: Herald, token: str = HOOKS, **fields) -> tuple[int, dict]:
    body = {"url": RECEIVER, "nodes": ["apps"], "description": "test"} | fields
    status, _, reply = request(h, "POST", "/v1/webhooks", body, token=token)
    return status, reply


def assert_secret_signs(secret: str) -> None:
    """The secret is one the Standard Webhooks library accepts and verifies with."""
    wh = Webhook(secret)
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    sig = wh.sign("msg_1", now, '{"a":1}')
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": sig}
    assert wh.verify('{"a":1}', headers) == {"a": 1}


def test_create_shows_the_secret_once_and_lists_without_it(herald):
    status, made = create(herald)
    assert status == 201, made
    assert made["id"].startswith("wh_") and made["secret"].startswith("whsec_")
    assert made["status"] == {"state": "active"}
    assert_secret_signs(made["secret"])
    status, _, listed = request(herald, "GET", "/v1/webhooks", token=HOOKS)
    assert status == 200 and [w["id"] for w in listed["webhooks"]] == [made["id"]]
    status, _, one = request(herald, "GET", f"/v1/webhooks/{made['id']}", token=HOOKS)
    assert status == 200 and one["url"] == RECEIVER
    assert made["secret"] not in str(listed) + str(one)


def test_private_url_refused_without_allow_private(herald_factory):
    h = herald_factory(config=config(False))
    status, reply = create(h)
    assert status == 422, reply
    assert reply["error"] == "private_url" and "allow_private" in reply["message"], reply
    status, reply = create(h, url="http://localhost:9/in")
    assert status == 422, reply
    status, _, listed = request(h, "GET", "/v1/webhooks", token=HOOKS)
    assert listed["webhooks"] == []


def test_bad_definitions_get_a_clear_4xx(herald):
    for fields, code in [({"nodes": []}, "invalid_webhook"),
                         ({"url": "ftp://127.0.0.1/"}, "invalid_webhook"),
                         ({"url": 5}, "invalid_json"),
                         ({"extra": 1}, "invalid_json")]:
        status, reply = create(herald, **fields)
        assert status == 400 and reply["error"] == code, (fields, reply)
    status, reply = create(herald, nodes=["secret-node"])
    assert status == 403, reply
    status, reply = create(herald, token=PUBLISH_ONLY)
    assert status == 403 and "webhooks" in reply["message"], reply


def test_rotate_patch_delete_and_owner_isolation(herald):
    _, made = create(herald, nodes=["billing.*"])
    wid = made["id"]
    status, _, rotated = request(herald, "POST", f"/v1/webhooks/{wid}/rotate-secret", token=HOOKS)
    assert status == 200 and rotated["secret"] != made["secret"], rotated
    assert rotated["rotation_ends_ms"] is not None
    assert_secret_signs(rotated["secret"])
    status, _, patched = request(herald, "PATCH", f"/v1/webhooks/{wid}",
                                 {"description": "renamed", "enabled": False}, token=HOOKS)
    assert status == 200 and patched["description"] == "renamed", patched
    assert patched["status"]["state"] == "disabled"
    # Another token sees none of it.
    status, _, _ = request(herald, "GET", f"/v1/webhooks/{wid}", token=OTHER)
    assert status == 404
    status, _, _ = request(herald, "DELETE", f"/v1/webhooks/{wid}", token=OTHER)
    assert status == 404
    status, _, _ = request(herald, "DELETE", f"/v1/webhooks/{wid}", token=HOOKS)
    assert status == 200
    status, _, _ = request(herald, "GET", f"/v1/webhooks/{wid}", token=HOOKS)
    assert status == 404


def test_endpoints_survive_sigkill(herald):
    _, made = create(herald)
    _, kept = create(herald, description="kept")
    request(herald, "DELETE", f"/v1/webhooks/{made['id']}", token=HOOKS)
    herald.restart(hard=True)
    status, _, listed = request(herald, "GET", "/v1/webhooks", token=HOOKS)
    assert status == 200
    assert [w["id"] for w in listed["webhooks"]] == [kept["id"]], listed

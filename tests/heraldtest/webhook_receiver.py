"""A webhook receiver on 127.0.0.1 for tests and the benchmark: a real HTTP
server (threaded) that records every POST and verifies its signature with
the `standardwebhooks` library (PyPI), not with Herald's own code.

    with Receiver(secret_of=lambda: secret) as r:
        ... r.url ...
        r.wait_for(lambda got: len(got) >= 5)

`behaviour(delivery) -> (status, headers, delay_s)` decides each answer;
the default answers 200 at once.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    path: str
    headers: dict
    body: bytes
    at: float
    # None: not checked (no secret known); else whether it verified.
    verified: Optional[bool] = None
    # The secrets (by index in Receiver.secrets) that verify it.
    verified_by: list = field(default_factory=list)

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


Behaviour = Callable[[Delivery], tuple[int, dict, float]]


def ok(_d: Delivery) -> tuple[int, dict, float]:
    return 200, {}, 0.0


class Receiver:
    def __init__(self, behaviour: Behaviour = ok, secrets: Optional[list[str]] = None):
        self.behaviour = behaviour
        self.secrets: list[str] = list(secrets or [])
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                d = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()},
                             body, time.monotonic())
                receiver._verify(d)
                with receiver._lock:
                    receiver.deliveries.append(d)
                status, headers, delay = receiver.behaviour(d)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # Herald gave up (timeout) and closed

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _verify(self, d: Delivery) -> None:
        if not self.secrets:
            return
        for i, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(d.body, d.headers)
                d.verified_by.append(i)
            except WebhookVerificationError:
                pass
        d.verified = bool(d.verified_by)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def got(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def wait_for(self, done: Callable[[list[Delivery]], bool], timeout: float = 15) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.got()
            if done(got):
                return got
            time.sleep(0.02)
        return self.got()

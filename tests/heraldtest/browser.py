"""A node script driving headless Chromium (playwright-core, tests/js/),
run in the background by a browser test: each JSON line it prints lands
in `lines` as it comes; stderr is kept for the failure report. Skips (or,
under CI, fails) when node, playwright-core or Chromium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from typing import Callable

import pytest

from heraldtest.harness import REPO

JS = REPO / "tests" / "js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class BrowserScript:
    def __init__(self, script: str, *args: str):
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        if shutil.which("node") is None:
            missing("node is not installed (scripts/test.sh installs the JS clients)")
        if not (JS / "node_modules" / "playwright-core").is_dir():
            missing("tests/js/node_modules/playwright-core missing: run `npm ci` in tests/js")
        if not os.access(CHROMIUM, os.X_OK):
            missing(f"no Chromium at {CHROMIUM}")
        self.lines: list[dict] = []
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            ["node", script, *args], cwd=JS, env=dict(os.environ, CHROMIUM=CHROMIUM),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.strip():
                self.lines.append(json.loads(line))

    def ended(self) -> bool:
        """The script exited and everything it printed was read."""
        return self.proc.poll() is not None and not self._reader.is_alive()

    def wait_until(self, what: str, cond: Callable[[], object], timeout: float):
        """`cond()` once it is truthy; fails naming `what` on a timeout or
        when the script ended first."""
        deadline = time.monotonic() + timeout
        while True:
            value = cond()
            if value:
                return value
            if self.ended() and not cond():
                pytest.fail(f"the browser script ended before {what}:\n{self.report()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.report()}")
            time.sleep(0.05)

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        return code

    def report(self) -> str:
        return ("--- stdout ---\n" + "\n".join(json.dumps(l) for l in self.lines)
                + "\n--- stderr ---\n" + "".join(self.stderr)[-4000:])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()        # our own node process (its Chromium dies with its pipe)
        self.proc.wait()

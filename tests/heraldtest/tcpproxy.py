"""A user-space TCP proxy that can blackhole its connections.

blackhole() freezes every connection open at that moment: nothing more is
read or written in either direction, and no socket is closed, so each peer
sees a silent, stalled connection (a partition, a hung peer). Connections
accepted afterwards are forwarded normally. heal() ends the partition the
way long ones end: the frozen connections are aborted (reset, whatever
they buffered is lost), as when either side gave up on them meanwhile.
go_down()/come_up() stand in for a server that stops and starts (closed
connections, then refusals).

The proxy runs its own asyncio loop in a daemon thread, so synchronous
tests can drive it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Optional


class _Conn:
    def __init__(self) -> None:
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.writers: list[asyncio.StreamWriter] = []


class BlackholeProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port: Optional[int] = None
        self.accepted = 0
        self._conns: set[_Conn] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.base_events.Server] = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "BlackholeProxy":
        self._thread.start()
        self.port = self._call(self._listen())
        return self

    def blackhole(self) -> int:
        """Freezes the current connections; returns how many."""
        return self._call(self._freeze())

    def heal(self) -> None:
        self._call(self._abort_frozen())

    def go_down(self) -> None:
        """Like a server that stops: every connection is closed and new
        ones are refused until come_up()."""
        self._call(self._shutdown())

    def come_up(self) -> None:
        """Listens again on the same port."""
        self._call(self._listen(self.port or 0))

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> "BlackholeProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- inside the loop ---------------------------------------------------

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return self._server.sockets[0].getsockname()[1]

    async def _freeze(self) -> int:
        for conn in self._conns:
            conn.thawed.clear()
        return len(self._conns)

    async def _abort_frozen(self) -> None:
        for conn in list(self._conns):
            if not conn.thawed.is_set():
                for w in conn.writers:
                    w.transport.abort()
                conn.thawed.set()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.thawed.set()
            for w in conn.writers:
                w.close()

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        conn = _Conn()
        conn.writers = [client_w, server_w]
        self._conns.add(conn)
        try:
            await asyncio.gather(self._pump(conn, client_r, server_w),
                                 self._pump(conn, server_r, client_w))
        finally:
            self._conns.discard(conn)

    @staticmethod
    async def _pump(conn: _Conn, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await conn.thawed.wait()
                data = await reader.read(65536)
                # Read just as the blackhole began: hold it, like the network.
                await conn.thawed.wait()
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

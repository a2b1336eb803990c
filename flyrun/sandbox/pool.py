"""The sandbox's HTTP server: werkzeug's WSGI server with a bounded pool of worker threads.

werkzeug's threaded server starts a thread per connection, so 1,000 stalled connections hold 1,000 threads. Here a
new connection waits in a "waiting room" (one selector, no thread) until its first bytes arrive, and only then takes
one of ``workers`` threads; a connection silent for ``idle_timeout`` seconds there is closed, and the request
handler's socket timeout bounds a request that stalls half-way.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from werkzeug.serving import BaseWSGIServer

MAX_WAITING = 512  # connections parked before their first byte; past that, the oldest are closed


class PooledWSGIServer(BaseWSGIServer):
    multithread = True  # the WSGI environ says so: requests run in several threads at once

    def __init__(self, host: str, port: int, app: Any, handler: Any, *, fd: int | None = None, workers: int = 32,
                 idle_timeout: float = 15.0) -> None:
        self._started = False  # werkzeug's __init__ calls server_close() on the socket it replaces
        super().__init__(host, port, app, handler, fd=fd)
        self.idle_timeout = idle_timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-http")
        self._room = selectors.DefaultSelector()
        self._room_lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._room.register(self._wake_read, selectors.EVENT_READ, None)
        self._closing = False
        self._doorman = threading.Thread(target=self._watch_room, name="sandbox-http-waiting", daemon=True)
        self._doorman.start()
        self._started = True

    # socketserver calls this for each accepted connection, on the thread running serve_forever.
    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._room_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            self._room.register(request, selectors.EVENT_READ, (client_address, time.monotonic()))
            self._evict_over_capacity()
        self._wake()

    def _evict_over_capacity(self) -> None:
        parked = [key for key in self._room.get_map().values() if key.data is not None]
        if len(parked) <= MAX_WAITING:
            return
        parked.sort(key=lambda key: key.data[1])
        for key in parked[:len(parked) - MAX_WAITING]:
            self._room.unregister(key.fileobj)
            self.shutdown_request(key.fileobj)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the doorman is awake anyway

    def _watch_room(self) -> None:
        while True:
            events = self._room.select(timeout=1.0)
            with self._room_lock:
                if self._closing:
                    return
                for key, _ in events:
                    if key.data is None:
                        os.read(self._wake_read, 4096)
                        continue
                    self._room.unregister(key.fileobj)
                    self._pool.submit(self._serve, key.fileobj, key.data[0])
                self._close_idle()

    def _close_idle(self) -> None:
        now = time.monotonic()
        for key in list(self._room.get_map().values()):
            if key.data is not None and now - key.data[1] > self.idle_timeout:
                self._room.unregister(key.fileobj)
                self.shutdown_request(key.fileobj)

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def waiting(self) -> int:
        """Connections parked before their first byte (for tests and diagnostics)."""
        with self._room_lock:
            return sum(1 for key in self._room.get_map().values() if key.data is not None)

    def server_close(self) -> None:
        if not self._started:
            super().server_close()
            return
        self._started = False
        with self._room_lock:
            self._closing = True
            for key in list(self._room.get_map().values()):
                if key.data is not None:
                    self._room.unregister(key.fileobj)
                    self.shutdown_request(key.fileobj)
        self._wake()
        self._doorman.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._room.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        super().server_close()

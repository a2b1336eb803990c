"""The sandbox's HTTP server: werkzeug's WSGI server with a bounded pool of worker threads.

werkzeug's threaded server starts a thread per connection, so 1,000 stalled connections hold 1,000 threads. Here a
new connection waits in a "waiting room" (one epoll, no thread) until its whole request head (request line and
headers) has arrived, and only then takes one of ``workers`` threads; a connection that has not sent its head
within ``idle_timeout`` seconds is closed there, so neither silent nor trickling ("slowloris") connections hold a
worker. The request handler's socket timeout bounds a body that stalls half-way.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from werkzeug.serving import BaseWSGIServer

MAX_WAITING = 512  # connections parked before their request head is in; past that, the oldest are closed
MAX_HEAD = 65536  # bytes of request line and headers; a longer head goes to werkzeug, which refuses it


class PooledWSGIServer(BaseWSGIServer):
    multithread = True  # the WSGI environ says so: requests run in several threads at once

    def __init__(self, host: str, port: int, app: Any, handler: Any, *, fd: int | None = None, workers: int = 32,
                 idle_timeout: float = 15.0) -> None:
        self._started = False  # werkzeug's __init__ calls server_close() on the socket it replaces
        super().__init__(host, port, app, handler, fd=fd)
        self.idle_timeout = idle_timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-http")
        # Edge-triggered: a parked connection wakes the doorman once per arrival of new bytes, not while unread
        # bytes merely sit there (the doorman only peeks; the worker reads them).
        self._epoll = select.epoll()
        self._parked: dict[int, tuple[socket.socket, Any, float]] = {}
        self._room_lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._closing = False
        self._doorman = threading.Thread(target=self._watch_room, name="sandbox-http-waiting", daemon=True)
        self._doorman.start()
        self._started = True

    # socketserver calls this for each accepted connection, on the thread running serve_forever.
    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        with self._room_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            self._parked[request.fileno()] = (request, client_address, time.monotonic())
            self._epoll.register(request.fileno(), select.EPOLLIN | select.EPOLLET | select.EPOLLRDHUP)
            self._evict_over_capacity()
        self._wake()

    def _unpark(self, fd: int) -> tuple[socket.socket, Any, float]:
        entry = self._parked.pop(fd)
        self._epoll.unregister(fd)
        return entry

    def _evict_over_capacity(self) -> None:
        if len(self._parked) <= MAX_WAITING:
            return
        oldest = sorted(self._parked, key=lambda fd: self._parked[fd][2])
        for fd in oldest[:len(self._parked) - MAX_WAITING]:
            self.shutdown_request(self._unpark(fd)[0])

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the doorman is awake anyway

    def _watch_room(self) -> None:
        while True:
            events = self._epoll.poll(1.0)
            with self._room_lock:
                if self._closing:
                    return
                for fd, _ in events:
                    if fd == self._wake_read:
                        os.read(self._wake_read, 4096)
                    elif fd in self._parked and self._head_is_in(self._parked[fd][0]):
                        request, address, _ = self._unpark(fd)
                        self._pool.submit(self._serve, request, address)
                self._close_idle()

    @staticmethod
    def _head_is_in(request: socket.socket) -> bool:
        """True once the request line and headers have arrived (or the peer closed: the worker sees that)."""
        try:
            seen = request.recv(MAX_HEAD, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return not seen or b"\r\n\r\n" in seen or b"\n\n" in seen or len(seen) >= MAX_HEAD

    def _close_idle(self) -> None:
        now = time.monotonic()
        for fd in [fd for fd, (_, _, since) in self._parked.items() if now - since > self.idle_timeout]:
            self.shutdown_request(self._unpark(fd)[0])

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def waiting(self) -> int:
        """Connections parked until their request head is in (for tests and diagnostics)."""
        with self._room_lock:
            return len(self._parked)

    def server_close(self) -> None:
        if not self._started:
            super().server_close()
            return
        self._started = False
        with self._room_lock:
            self._closing = True
            for fd in list(self._parked):
                self.shutdown_request(self._unpark(fd)[0])
        self._wake()
        self._doorman.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        super().server_close()

"""What the API handlers share: the store, the data dir, the scheduler and the URL signer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flyrun.sandbox.admin.signing import Signer
from flyrun.sandbox.engine.scheduler import Scheduler
from flyrun.sandbox.state.layout import DataDir
from flyrun.sandbox.state.store import Store


@dataclass
class Services:
    store: Store
    data: DataDir
    scheduler: Scheduler
    signer: Signer
    base_url: str = "http://127.0.0.1:30080"
    auth: Any = None  # the authorization server when started with --auth
    _request: threading.local = field(default_factory=threading.local, repr=False)

    def public_url(self) -> str:
        """The URL clients reach this server by: the current request's host, else ``base_url``.

        Signed URLs use it, so a client on another machine (``--host 0.0.0.0 --auth``) gets URLs it can reach.
        """
        return getattr(self._request, "host_url", None) or self.base_url

    def serving(self, host_url: str | None, subject: str | None = None) -> None:
        """Note the host the current request (on this thread) came to, and who sent it (gRPC's bearer token)."""
        self._request.host_url = host_url.rstrip("/") if host_url else None
        self._request.subject = subject

    def caller(self) -> str | None:
        """The signed-in subject of the current request, when its transport noted one."""
        return getattr(self._request, "subject", None)

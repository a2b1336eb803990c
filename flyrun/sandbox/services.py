"""What the API handlers share: the store, the data dir, the scheduler and the URL signer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyrun.sandbox.layout import DataDir
from flyrun.sandbox.scheduler import Scheduler
from flyrun.sandbox.signing import Signer
from flyrun.sandbox.store import Store


@dataclass
class Services:
    store: Store
    data: DataDir
    scheduler: Scheduler
    signer: Signer
    base_url: str = "http://127.0.0.1:30080"
    auth: Any = None  # the authorization server when started with --auth

"""flyrun sandbox console: how long the execution page of a 1,000-node run takes to render.

The execution (100 levels of 10 task nodes, all finished) is written straight to the store, then served by a
detached `flyrun sandbox start`; the page (graph, timeline and node table) is fetched over HTTP, and the server's
own work for it is timed in-process as CPU time, which other processes on a busy machine do not inflate.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from timing import REPO

sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))  # this checkout's flyrun, for the in-process part too
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def _cpu_ms(data_dir: Path) -> float:
    from types import SimpleNamespace

    from console_data import DOMAIN, NAME, PROJECT

    from flyrun.sandbox.console.pages import execution_fragment
    from flyrun.sandbox.state.store import Key, Store

    store = Store.open(data_dir)
    try:
        key = Key(PROJECT, DOMAIN, NAME)
        row = store.execution(key)
        costs = []
        for _ in range(7):
            begun = time.process_time()
            execution_fragment(SimpleNamespace(store=store), key, row)
            costs.append(time.process_time() - begun)
        return statistics.median(costs) * 1000
    finally:
        store.close()


def run() -> list[tuple[str, str]]:
    from console_data import DOMAIN, NAME, PROJECT, populate

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        populate(data_dir)
        cpu = _cpu_ms(data_dir)
        command = [sys.executable, "-m", "flyrun.cli.main", "sandbox"]
        started = subprocess.run(command + ["start", "--port", "0", "--data-dir", str(data_dir), "--detach",
                                            "-o", "json"], capture_output=True, text=True, cwd=REPO, env=ENV)
        if started.returncode != 0:
            raise RuntimeError(started.stderr)
        try:
            url = (f"{json.loads(started.stdout)['url']}/console/projects/{PROJECT}/domains/{DOMAIN}/"
                   f"executions/{NAME}")
            http = requests.Session()
            size = len(http.get(url, timeout=30).content)
            walls = []
            for _ in range(15):
                begun = time.perf_counter()
                http.get(url, timeout=30).raise_for_status()
                walls.append(time.perf_counter() - begun)
        finally:
            subprocess.run(command + ["stop", "--data-dir", str(data_dir)], capture_output=True, env=ENV)
    return [("1,000-node execution page over HTTP, median", f"{statistics.median(walls) * 1000:.0f} ms"),
            ("1,000-node execution page over HTTP, best", f"{min(walls) * 1000:.0f} ms"),
            ("1,000-node execution fragment, server CPU (median of 7)", f"{cpu:.0f} ms"),
            ("1,000-node execution page size", f"{size // 1024} KiB")]

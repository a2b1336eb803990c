"""flyrun sandbox console: how long the execution page of a 1,000-node run takes to render.

The execution (100 levels of 10 task nodes, all finished) is written straight to the store, then served by a
detached `flyrun sandbox start`; the page (graph, timeline and node table) and its live fragment are fetched over
HTTP, and the server's own work for it is timed in-process as CPU time (the whole fragment, then the graph, the
timeline and the node table alone), which other processes on a busy machine do not inflate.
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


def _cpu_ms(data_dir: Path) -> dict[str, float]:
    """Median CPU milliseconds (of 7) for the whole fragment and for each of its parts, in this process."""
    from types import SimpleNamespace

    from console_data import DOMAIN, DYNAMIC_NAME, NAME, PROJECT

    from flyrun.sandbox.console.graph import graph_svg, timeline_svg
    from flyrun.sandbox.console.pages import _nodes_table, execution_fragment
    from flyrun.sandbox.console.view import decoded_nodes
    from flyrun.sandbox.state.store import Key, Store

    store = Store.open(data_dir)
    try:
        key = Key(PROJECT, DOMAIN, NAME)
        row = store.execution(key)
        nodes = decoded_nodes(store.all_nodes(key))
        dynamic_key = Key(PROJECT, DOMAIN, DYNAMIC_NAME)
        dynamic_row, dynamic_nodes = store.execution(dynamic_key), decoded_nodes(store.all_nodes(dynamic_key))
        parts = {"fragment": lambda: execution_fragment(SimpleNamespace(store=store), key, row),
                 "read and decode the node rows": lambda: decoded_nodes(store.all_nodes(key)),
                 "graph": lambda: graph_svg(row["plan"], nodes),
                 "timeline": lambda: timeline_svg(key, nodes),
                 "node table": lambda: _nodes_table(key, nodes),
                 "dynamic node expanded (graph)": lambda: graph_svg(dynamic_row["plan"], dynamic_nodes, ["n0"])}
        costs: dict[str, float] = {}
        for what, work in parts.items():
            samples = []
            for _ in range(7):
                begun = time.process_time()
                work()
                samples.append(time.process_time() - begun)
            costs[what] = statistics.median(samples) * 1000
        return costs
    finally:
        store.close()


def _walls(http: requests.Session, url: str, times: int = 15) -> list[float]:
    walls = []
    for _ in range(times):
        begun = time.perf_counter()
        http.get(url, timeout=30).raise_for_status()
        walls.append(time.perf_counter() - begun)
    return walls


def run() -> list[tuple[str, str]]:
    from console_data import DOMAIN, NAME, PROJECT, populate, populate_dynamic

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        populate(data_dir)
        populate_dynamic(data_dir)
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
            walls = _walls(http, url)
            fragment = _walls(http, url + "?fragment=1")  # what the live refresh fetches
        finally:
            subprocess.run(command + ["stop", "--data-dir", str(data_dir)], capture_output=True, env=ENV)
    rows = [("1,000-node execution page over HTTP, median", f"{statistics.median(walls) * 1000:.0f} ms"),
            ("1,000-node execution page over HTTP, best", f"{min(walls) * 1000:.0f} ms"),
            ("1,000-node live fragment (?fragment=1) over HTTP, median",
             f"{statistics.median(fragment) * 1000:.0f} ms"),
            ("1,000-node execution page size", f"{size // 1024} KiB")]
    rows += [(f"1,000-node {what}, server CPU (median of 7)", f"{ms:.0f} ms") for what, ms in cpu.items()]
    return rows

"""Run a graph's nodes in threads, each as soon as the nodes it depends on have finished (a local dynamic's graph).

Outcomes are those of a sequential run in ``ordered`` order: when a node fails, the nodes before it in that order
still run (a sequential run would have run them first, and one of them may fail instead), the nodes after it are
not started, and the error raised is the failure earliest in the order. Each node runs in a copy of the caller's
context variables, so the run's context (storage, notices, mocks) follows it into the threads.
"""

from __future__ import annotations

import contextvars
import heapq
import os
import threading
from collections.abc import Callable
from typing import Any

LANES_ENV = "FLYRUN_LOCAL_PARALLELISM"


def default_lanes() -> int:
    """Threads for one graph: ``FLYRUN_LOCAL_PARALLELISM``, else min(32, CPUs + 4) as for a map of waiting items."""
    value = os.environ.get(LANES_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(32, (os.cpu_count() or 1) + 4)


def run_graph(ordered: list[Any], results: dict[str, Any], run: Callable[[Any], Any],
              lanes: int | None = None) -> None:
    """Run every node of ``ordered`` (a topological order; ``node.depends_on()`` names upstream ids) with
    ``run(node)``, storing each result in ``results[node.id]``; raises the earliest failure in the order."""
    position = {node.id: i for i, node in enumerate(ordered)}
    waiting = [0] * len(ordered)
    downstream: list[list[int]] = [[] for _ in ordered]
    for i, node in enumerate(ordered):
        for upstream in set(node.depends_on()):
            if upstream in position:
                waiting[i] += 1
                downstream[position[upstream]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    state = _State(ready)
    context = contextvars.copy_context()

    def lane() -> None:
        while True:
            with state.changed:
                index = state.take()
                if index is None:
                    return
            try:
                value = context.copy().run(run, ordered[index])
            except BaseException as error:  # handed back to the caller's thread, which raises it
                with state.changed:
                    state.fail(index, error)
                continue
            with state.changed:
                results[ordered[index].id] = value
                state.running -= 1
                for child in downstream[index]:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(state.ready, child)
                state.changed.notify_all()

    count = max(1, min(lanes or default_lanes(), len(ordered)))
    threads = [threading.Thread(target=lane, name="flyrun-dynamic-node", daemon=True) for _ in range(count - 1)]
    for thread in threads:
        thread.start()
    lane()  # the calling thread is a lane too: a graph of one node starts no thread
    for thread in threads:
        thread.join()
    if state.failures:
        raise state.failures[min(state.failures)]


class _State:
    """What the lanes share, under ``changed``: the ready heap (lowest position first), what runs, what failed."""

    def __init__(self, ready: list[int]) -> None:
        self.ready = ready
        self.running = 0
        self.failures: dict[int, BaseException] = {}
        self.changed = threading.Condition()

    def take(self) -> int | None:
        """The next node to run, waiting while nodes run that may make one ready; None when nothing is left."""
        while True:
            cutoff = min(self.failures) if self.failures else None
            if self.ready and (cutoff is None or self.ready[0] < cutoff):
                self.running += 1
                return heapq.heappop(self.ready)
            if self.running == 0:
                self.changed.notify_all()
                return None
            self.changed.wait()

    def fail(self, index: int, error: BaseException) -> None:
        self.failures[index] = error
        self.running -= 1
        self.changed.notify_all()

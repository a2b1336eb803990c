"""Run a map task's items locally, choosing in-process, threads or worker processes by timing the first items.

Every run starts the same way: items run here, one after another, on the calling thread. Most maps of small items
are finished before the probe ends, and pay nothing for parallelism. If items are still left after ``PROBE_SECONDS``,
what the probe saw decides:

- mostly CPU time, and enough work left to pay for starting processes: worker processes (forks of a warm zygote
  made when the map began, or fresh interpreters that find the task by module and name where forking is not used;
  see ``flyrun.protocol.zygote`` and ``flyrun.local.map_worker``) pull batches of items, sized to about
  ``BATCH_SECONDS`` of work, from the same queue as this thread, which keeps running items too; each worker has
  its next batch before it finishes the current one (``MapRun.run_in_worker``). Lanes in total: ``concurrency``,
  else the number of CPUs.
- mostly waiting (I/O, sleeps): threads pull items from the queue. Lanes: ``concurrency``, else min(32, CPUs + 4).
- too little left to gain anything: this thread finishes alone.

The numbers come from bench/bench_map.py on a 2-core machine; see the README.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flyrun.local import map_worker
from flyrun.local.map_worker import Worker, find_task, pickled, trace, worker_spec
from flyrun.protocol import zygote
from flyrun.sdk.context import ExecutionContext, use_context
from flyrun.sdk.map import ItemFailure, MapTask
from flyrun.types import engine

PROBE_SECONDS = 0.02  # run items here for this long before deciding anything
CPU_BOUND_SHARE = 0.5  # share of the probe spent on (or queued for) a CPU; items that wait score under 0.1
PROCESS_ITEM_FLOOR = 0.001  # seconds an item must take (as measured by the probe) to be worth sending to a worker
PROCESSES_PAY_AFTER = 0.25  # seconds of work left, above which starting worker processes pays (~0.1 s cold)
THREADS_PAY_AFTER = 0.01
BATCH_SECONDS = 0.05  # work sent to a worker process in one message
AHEAD_BYTES = 32768  # a worker's next batch is sent while it runs one only up to this size (a socket holds more)
SWITCH_INTERVAL = 0.001  # seconds; Python's default of 0.005 makes worker start-up three times slower


class MapRun:
    """The shared queue of one map's items, their results, and the lanes that work on them."""

    def __init__(self, map_task: MapTask, items: list[dict[str, Any]], allowed_failures: int,
                 context: ExecutionContext, cache_dir: Callable[[], str | None]) -> None:
        self.map_task, self.items, self.allowed = map_task, items, allowed_failures
        self.context = context
        self.cache_dir = cache_dir
        self.pending = collections.deque(range(len(items)))
        self.results: list[Any] = [None] * len(items)
        self.notices: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.failed = 0
        self.done_here = 0
        self.finished = threading.Event()
        self.workers: list[Any] = []
        self.closed = False
        self.mode = "in-process"
        self.zygote: Any = None
        self.no_zygote = ""  # why workers would be fresh interpreters, said with -v
        self.spare: list[Any] = []  # workers forked when the map began, ready before the probe ends

    # -- the queue -----------------------------------------------------------------------------
    def take(self, count: int = 1, keep: int = 0) -> list[int]:
        """Up to ``count`` items from the queue, or none unless ``keep`` more are left in it after them."""
        with self.lock:
            if self.failed > self.allowed:
                self.pending.clear()
            if keep and len(self.pending) < count + keep:
                return []
            batch = [self.pending.popleft() for _ in range(min(count, len(self.pending)))]
            self.in_flight += len(batch)
            if not batch and self.in_flight == 0:
                self.finished.set()
            return batch

    def record(self, index: int, result: Any, notices: list[str]) -> None:
        with self.lock:
            self.results[index] = result
            self.notices.update(notices)
            self.in_flight -= 1
            if isinstance(result, ItemFailure):
                self.failed += 1
                if self.failed > self.allowed:
                    self.pending.clear()
            if not self.pending and self.in_flight == 0:
                self.finished.set()

    # -- lanes ---------------------------------------------------------------------------------
    def run_here(self) -> None:
        """A lane in this process: run items from the queue until it is empty."""
        notices: list[str] = []
        lane_context = dataclasses.replace(self.context, notify=notices.append)
        with use_context(lane_context):
            while batch := self.take():
                index = batch[0]
                trace(f"here {index}")
                try:
                    result: Any = self.map_task.task.local_execute(self.items[index])
                except Exception as exc:  # the item's failure is data; MapTask.gather decides what it means
                    result = ItemFailure.from_exception(index, exc)
                self.done_here += 1
                trace(f"here {index} done")
                self.record(index, result, notices)
                notices.clear()

    def run_in_worker(self, worker: Any, batch_size: int, others: int) -> None:
        """A lane that feeds one worker process with batches of items; every item it takes gets a result.

        The worker gets its next batch before it finishes the current one (while ``others`` lanes still have at
        least a batch each to take), so it never waits for this process between batches: that wait is a wake-up
        and a turn at the GIL while this process's own lane runs Python code, milliseconds each time."""
        try:  # take no item before the worker is up: until then this process may well finish them itself
            worker.ready()
            trace("lane: worker ready")
        except Exception as exc:
            self.notify_once(f"map task {self.map_task.name}: a worker process could not start ({exc}); "
                             "running the items here")
            return
        # Batches given to the worker, oldest first, not yet answered; the second one's message is kept here
        # (not None) while it waits to be sent: two large batches could fill both ways of the socket at once.
        sent: collections.deque[tuple[list[int], bytes | None]] = collections.deque()
        while True:
            batch = self.take(batch_size, keep=others * batch_size if sent else 0) if len(sent) < 2 else []
            if batch:
                message = self._message(batch)
                if message is None:  # its items could not be passed over, and have failed
                    continue
                if sent and len(message) > AHEAD_BYTES:
                    sent.append((batch, message))
                else:
                    try:
                        worker.send(message)
                    except OSError as exc:  # the worker died
                        self._lost([batch, *(b for b, _ in sent)], worker, exc)
                        return
                    sent.append((batch, None))
                    trace(f"lane: sent {batch}")
                    continue
            if not sent:
                return
            batch, _ = sent.popleft()  # the oldest batch has always been sent
            try:
                answers = worker.receive()
                trace(f"lane: answers for {batch}")
            except (EOFError, OSError) as exc:  # the worker died: every item it was given failed
                self._lost([batch, *(b for b, _ in sent)], worker, exc)
                return
            except Exception as exc:  # the answers could not be passed back
                answers = [(i, ItemFailure(i, type(exc).__name__, f"passing it back from a worker process: {exc}"),
                            []) for i in batch]
            if sent and sent[0][1] is not None:  # the next batch was held back: it goes now
                held, message = sent[0]
                try:
                    worker.send(message)
                except OSError as exc:
                    self._record_answers(answers)
                    self._lost([held], worker, exc)
                    return
                sent[0] = (held, None)
                trace(f"lane: sent {held}")
            self._record_answers(answers)

    def _message(self, batch: list[int]) -> bytes | None:
        """A batch's items as literals, pickled; None (and each item failed) when they cannot be passed over."""
        interface = self.map_task.task.interface
        try:
            return pickled([(i, {name: engine.to_literal(value, interface.inputs[name])
                                 for name, value in self.items[i].items()}) for i in batch])
        except Exception as exc:  # an item could not be passed over
            for i in batch:
                self.record(i, ItemFailure(i, type(exc).__name__, f"passing it to a worker process: {exc}"), [])
            return None

    def _record_answers(self, answers: list[tuple[int, Any, list[str]]]) -> None:
        """Record a batch's outputs, back as Python values (or an ItemFailure per item)."""
        outputs = self.map_task.task.interface.outputs
        for index, result, notices in answers:
            if not isinstance(result, ItemFailure):
                try:
                    result = {name: engine.to_python(lit, outputs[name]) for name, lit in result.items()}
                except Exception as exc:
                    result = ItemFailure(index, type(exc).__name__, f"passing it back from a worker process: {exc}")
            self.record(index, result, notices)

    def _lost(self, batches: list[list[int]], worker: Any, error: BaseException) -> None:
        for batch in batches:
            for index in batch:
                self.record(index, _lost_item(index, worker, error), [])

    def notify_once(self, message: str) -> None:
        with self.lock:
            self.notices[message] = 1

    # -- deciding ------------------------------------------------------------------------------
    def start_helpers(self, started: float, busy: Callable[[], float], busy_started: float) -> None:
        """After the probe: add thread or process lanes if what is left is worth it."""
        elapsed = time.perf_counter() - started
        cpu_share = (busy() - busy_started) / max(elapsed, 1e-9)
        per_item = elapsed / max(self.done_here, 1)
        left = len(self.pending)
        work_left = per_item * left
        # An item outlasting the probe is heavy. Items under PROCESS_ITEM_FLOOR cost about what passing them to a
        # worker and back costs, and while the zygote lives each looks up to twice its size (the pages this process
        # writes since the fork are copied first), so a map of small items stays here.
        trace(f"probe: {self.done_here} done, cpu share {cpu_share:.2f}")
        heavy = self.done_here == 0 or (work_left >= PROCESSES_PAY_AFTER and per_item >= PROCESS_ITEM_FLOOR)
        if cpu_share >= CPU_BOUND_SHARE:
            lanes = _limit(self.map_task.concurrency, os.cpu_count() or 1)
            if lanes > 1 and heavy and self._importable():
                batch_size = 1 if self.done_here == 0 else max(1, min(math.ceil(BATCH_SECONDS / per_item),
                                                                        math.ceil(left / (4 * (lanes - 1)))))
                self._start_processes(min(lanes - 1, left), batch_size)
                return
        with self.lock:
            spare, self.spare = self.spare, []
        for worker in spare:
            worker.discard()
        self._end_zygote()  # no worker processes for this map: its copy-on-write cost ends with it
        if cpu_share < CPU_BOUND_SHARE and work_left >= THREADS_PAY_AFTER:
            lanes = _limit(self.map_task.concurrency, min(32, (os.cpu_count() or 1) + 4))
            self.mode = f"{lanes} threads"
            for _ in range(lanes - 1):
                self._lane(self.run_here)

    def _importable(self) -> bool:
        """Whether a worker process can find the task by module and name (and workers can be started here)."""

        task = self.map_task.task
        if os.name != "posix":  # workers talk over inherited pipe file descriptors
            return False
        try:
            return task.module != "__main__" and find_task(task.module, task.attribute) is task
        except Exception:
            return False

    def _start_processes(self, count: int, batch_size: int) -> None:
        zygote = self.zygote  # read once: the map may finish (and end it) meanwhile
        how = "forked from a warm zygote" if zygote is not None else f"fresh interpreters: {self.no_zygote}"
        self.mode = f"{count} worker process{'es' * (count > 1)} and this one, batches of {batch_size}, {how}"
        with self.lock:
            spare, self.spare = self.spare[:count], self.spare[count:]
        for worker in self.spare:
            worker.discard()
        spec = self._spec(zygote is not None) if len(spare) < count else {}
        first = None  # the first worker's lane runs in this thread (the probe's): no thread start before it
        for index in range(count):
            try:
                worker = spare[index] if index < len(spare) else Worker(spec, zygote)
            except (OSError, EOFError) as exc:  # the zygote is gone: this process runs the items
                if not self.closed:  # (not because the map is over)
                    self.notify_once(f"map task {self.map_task.name}: a worker process could not start ({exc}); "
                                     "running the items here")
                break
            with self.lock:
                closed = self.closed
                if not closed:
                    self.workers.append(worker)
            if closed:  # the map finished while the worker was starting
                worker.close(kill=True)
                break
            if first is None:
                first = worker
            else:
                self._lane(self.run_in_worker, worker, batch_size, count)
        if first is not None:
            self.run_in_worker(first, batch_size, count)

    def _lane(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="flyrun-map")
        thread.start()

    def _spec(self, forked: bool) -> dict[str, Any]:
        cache_dir = self.cache_dir() if self.map_task.task.metadata.cache else None
        return worker_spec(self.context, self.map_task.task, cache_dir, forked)

    def close(self, interrupted: bool = False) -> None:
        with self.lock:
            self.closed = True
            self.finished.set()  # a probe still waiting gives up
            workers = list(self.workers)
            spare, self.spare = self.spare, []
        for worker in spare:
            worker.discard()
        for worker in workers:
            worker.close(kill=interrupted)
        self._end_zygote(wait=interrupted)

    def _end_zygote(self, wait: bool = False) -> None:
        with self.lock:
            zygote, self.zygote = self.zygote, None
        if zygote is not None:
            zygote.close(wait=wait)

    def start_zygote(self) -> None:
        """Fork the warm zygote now, while this process is single-threaded, if worker processes may be wanted."""

        if (os.cpu_count() or 1) < 2 or not self._importable():
            return
        self.no_zygote = zygote.unavailable() or ""
        if self.no_zygote:
            return

        map_worker.inherit(self.context)
        try:
            self.zygote = zygote.Zygote()
        except OSError as exc:
            self.no_zygote = f"the zygote could not be forked ({exc})"
            return
        trace("zygote forked")
        # The workers a CPU-bound map would start, asked for now without waiting: the zygote forks them while
        # this thread runs the first items, so they are ready when the probe decides (and simply dropped if it
        # decides against processes). Their spec costs no config read here (map_worker.inherit).
        lanes = _limit(self.map_task.concurrency, os.cpu_count() or 1)
        count = min(lanes - 1, len(self.items) - 1)
        if count > 0:
            spec = self._spec(True)
            try:
                self.spare = [map_worker.Worker(spec, self.zygote, wait=False) for _ in range(count)]
            except (OSError, EOFError):
                self.spare = []
        trace("spare asked for")


def _limit(concurrency: int | None, default: int) -> int:
    return default if not concurrency else concurrency


def _lost_item(index: int, worker: Any, error: BaseException) -> ItemFailure:
    try:
        worker.wait(timeout=5)
    except Exception:  # still running with its pipe gone: the status stays unknown
        pass
    return ItemFailure(index, "WorkerExited", f"the worker process running it exited with status "
                                              f"{worker.exit_code()} ({type(error).__name__})")


def run_map(map_task: MapTask, items: list[dict[str, Any]], allowed_failures: int, context: ExecutionContext,
            cache_dir: Callable[[], str | None], debug: Callable[[str], None] | None = None) -> list[Any]:
    """Run the items and return one entry per item: outputs, an ItemFailure, or None when not run."""
    run = MapRun(map_task, items, allowed_failures, context, cache_dir)
    if not items:
        return []
    started = time.perf_counter()
    trace("map starts")
    switch_interval = sys.getswitchinterval()
    try:  # Ctrl-C while the zygote starts stops it too
        if map_task.concurrency != 1 and len(items) > 1:
            # Lanes that wait on workers need the GIL back quickly while this thread runs Python code.
            sys.setswitchinterval(SWITCH_INTERVAL)
            run.start_zygote()
            run._lane(_probe, run, busy_clock(threading.get_native_id()))
            trace("probe started")
        run.run_here()
        while not run.finished.wait(0.1):
            pass
    except BaseException:
        run.close(interrupted=True)
        raise
    finally:
        sys.setswitchinterval(switch_interval)
    trace("all done")
    run.close()
    trace("closed")
    map_worker.write_trace("parent")
    for message, count in run.notices.items():
        context.notify(message if count == 1 else f"{message} (x{count} items)")
    if debug is not None:
        debug(f"map task {map_task.name}: {len(items)} items, {run.mode}, {time.perf_counter() - started:.3f} s")
    return run.results


def _probe(run: MapRun, busy: Callable[[], float]) -> None:
    """Time this thread's items for the probe, unless the map ends first, then decide (and become a worker's
    lane, if it says so). The probe starts here, after the fork and this thread's start, which this thread waited
    for: it times items only."""
    started, busy_started = time.perf_counter(), busy()
    if not run.finished.wait(PROBE_SECONDS) and not run.closed:
        run.start_helpers(started, busy, busy_started)


def busy_clock(native_id: int) -> Callable[[], float]:
    """Seconds a thread has spent running or ready to run, waiting only for a CPU (Linux's schedstat), so that
    CPU-bound work on a busy machine still looks CPU-bound; elsewhere, the process's CPU time."""
    path = f"/proc/self/task/{native_id}/schedstat"

    def read() -> float:
        with open(path) as stats:
            running, waiting = stats.read().split()[:2]
        return (int(running) + int(waiting)) / 1e9

    try:
        read()
    except (OSError, ValueError):
        return time.process_time
    return read

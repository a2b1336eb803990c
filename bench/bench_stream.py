"""Streaming: copy a 1 GiB file local -> local and local -> S3 (moto) through FlyteFile.open, and through a plain
fsspec copy of the same bytes; throughput of both, their ratio, and each transfer's peak memory.

Every transfer runs in a fresh process (its peak RSS is read from wait4) and both sides copy with the same loop
(``shutil.copyfileobj``, 8 MiB reads); only the way the two streams are opened differs. Runs alternate between
the two; throughput is reported for the best run and the median, since the disk is shared with other work. moto
runs in its own process so its memory (it keeps objects in RAM) is not counted. Sizes: FLYRUN_BENCH_STREAM_MIB
(default 1024) and FLYRUN_BENCH_STREAM_S3_MIB (default: the same).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import REPO

CHILD = r'''
import json, shutil, sys, time
mode, src, dst, endpoint = sys.argv[1:5]
options = {"s3": {"endpoint_url": endpoint}} if endpoint else {}
# Imports are a one-time start-up cost, not streaming: both sides load their modules before the clock starts.
import fsspec
fsspec.get_filesystem_class("s3" if endpoint else "file")
if mode == "flyrun":
    import flyrun.data.transfer
    from flyrun import FlyteFile
    from flyrun.sdk.context import ExecutionContext, use_context
    with use_context(ExecutionContext(storage_options=options)):
        start = time.perf_counter()
        with FlyteFile(src).open("rb") as reader, FlyteFile(dst).open("wb") as writer:
            shutil.copyfileobj(reader, writer, 8 * 2**20)
        seconds = time.perf_counter() - start
else:
    start = time.perf_counter()
    with fsspec.open(src, "rb") as reader, fsspec.open(dst, "wb", **options.get("s3", {})) as writer:
        shutil.copyfileobj(reader, writer, 8 * 2**20)
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds}))
'''

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true"}


def _measure(pairs, runs: int, cleanup) -> dict[str, dict[str, float]]:
    results: dict[str, list[tuple[float, float]]] = {"flyrun": [], "fsspec": []}
    for i in range(runs):
        order = ("flyrun", "fsspec") if i % 2 == 0 else ("fsspec", "flyrun")
        for mode in order:
            src, dst, endpoint = pairs[mode]
            os.sync()  # each copy starts with no dirty pages of the one before to write back
            results[mode].append(_run_one(mode, src, dst, endpoint))
            cleanup(dst)
    return {mode: {"best": min(s for s, _ in rows), "median": statistics.median(s for s, _ in rows),
                   "peak": max(p for _, p in rows), "runs": len(rows)} for mode, rows in results.items()}


def _run_one(mode: str, src: str, dst: str, endpoint: str) -> tuple[float, float]:
    # Popen + wait4 so the peak memory is this child's alone.
    env = dict(os.environ, PYTHONPATH=str(REPO), **AWS)
    process = subprocess.Popen([sys.executable, "-c", CHILD, mode, src, dst, endpoint], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{mode} transfer failed: {err.decode(errors='replace').strip()[-500:]}")
    return json.loads(out)["seconds"], usage.ru_maxrss / 1024


def _source(folder: Path, mib: int) -> Path:
    path = folder / f"source-{mib}.bin"
    block = os.urandom(2**20)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)
    os.sync()  # not flushing a GiB of dirty pages under the first timed copy
    return path


def _rows(label: str, mib: int, figures: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    # Throughput of the best run of each (the one least disturbed by other work on a shared machine), with the
    # median beside it; the ratio compares best runs.
    def speed(mode: str, which: str) -> float:
        return mib / figures[mode][which]

    rows = []
    for mode, name in (("flyrun", "FlyteFile.open"), ("fsspec", "plain fsspec")):
        figure = figures[mode]
        rows.append((f"{label}, {mib} MiB: {name}",
                     f"{speed(mode, 'best'):.0f} MiB/s (median {speed(mode, 'median'):.0f}, "
                     f"{figure['runs']} runs), peak {figure['peak']:.0f} MiB"))
    rows.append((f"{label}: ratio FlyteFile/fsspec (target >= 0.9)",
                 f"{speed('flyrun', 'best') / speed('fsspec', 'best'):.2f} "
                 f"(medians: {speed('flyrun', 'median') / speed('fsspec', 'median'):.2f})"))
    return rows


def _moto() -> tuple[subprocess.Popen, str]:
    sys.path.insert(0, str(REPO / "tests"))
    from storage_peers import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, **AWS))
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def run() -> list[tuple[str, str]]:
    mib = int(os.environ.get("FLYRUN_BENCH_STREAM_MIB", "1024"))
    s3_mib = int(os.environ.get("FLYRUN_BENCH_STREAM_S3_MIB", str(mib)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="flyrun-bench-stream-") as folder:
        source = _source(Path(folder), mib)
        pairs = {mode: (str(source), os.path.join(folder, f"copy-{mode}.bin"), "") for mode in ("flyrun", "fsspec")}
        rows += _rows("local -> local", mib, _measure(pairs, 7, lambda dst: os.remove(dst)))
        s3_source = source if s3_mib == mib else _source(Path(folder), s3_mib)
        moto, endpoint = _moto()
        try:
            import fsspec

            fs = fsspec.filesystem("s3", endpoint_url=endpoint, key="testing", secret="testing",
                                   skip_instance_cache=True)
            fs.mkdir("flyrun-bench")
            pairs = {mode: (str(s3_source), f"s3://flyrun-bench/{mode}.bin", endpoint)
                     for mode in ("flyrun", "fsspec")}
            rows += _rows("local -> S3 (moto)", s3_mib, _measure(pairs, 3, lambda dst: fs.rm(dst)))
        finally:
            moto.terminate()
            moto.wait(timeout=30)
    return rows

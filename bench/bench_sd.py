"""StructuredDataset streaming: a parquet dataset of FLYRUN_BENCH_SD_GB GiB (default 0.25; 1 for the issue's figure)
through StructuredDataset between two tasks, on S3 (moto, in its own process so its memory is not counted).

The producer task returns ``StructuredDataset(dataframe=<iterator of record batches>)``, written as one parquet
file streamed to S3 one row group at a time; the consumer reads it with ``sd.open(pa.Table).iter()``, one row group
at a time. The workflow runs with ``flyrun run`` in a fresh process whose peak RSS is read from wait4: it stays
near a batch's size (plus the interpreter and libraries), whatever the dataset's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_stream import AWS, _moto
from timing import REPO

FLOW = '''
import os
import pyarrow as pa
from flyrun import task, workflow
from flyrun.types.structured import StructuredDataset

ROWS = 1 << 20  # 1 Mi rows of 8 int64 columns: 64 MiB per batch


@task
def produce(gib: float) -> StructuredDataset:
    batches = max(1, round(gib * 1024 / 64))
    def frames():
        for i in range(batches):
            base = pa.array(range(i * ROWS, (i + 1) * ROWS), type=pa.int64())
            yield pa.record_batch([base] * 8, names=[f"c{j}" for j in range(8)])
    return StructuredDataset(dataframe=frames())


@task
def consume(sd: StructuredDataset) -> int:
    rows = 0
    for table in sd.open(pa.Table).iter():
        rows += table.num_rows
    return rows


@workflow
def stream(gib: float) -> int:
    return consume(sd=produce(gib=gib))
'''


def run() -> list[tuple[str, str]]:
    gib = float(os.environ.get("FLYRUN_BENCH_SD_GB", "0.25"))
    moto, endpoint = _moto()
    try:
        import fsspec

        fs = fsspec.filesystem("s3", client_kwargs={"endpoint_url": endpoint}, key="testing", secret="testing")
        fs.mkdir("bench-sd")
        with tempfile.TemporaryDirectory(prefix="flyrun-bench-sd-") as folder:
            flow = Path(folder) / "sdflow.py"
            flow.write_text(FLOW)
            env = dict(os.environ, **AWS, PYTHONPATH=str(REPO), FLYTE_AWS_ENDPOINT=endpoint,
                       FLYTE_AWS_ACCESS_KEY_ID="testing", FLYTE_AWS_SECRET_ACCESS_KEY="testing",
                       AWS_ENDPOINT_URL=endpoint, HOME=folder)
            argv = [sys.executable, "-m", "flyrun.cli.main", "run", "--raw-output-data-prefix", "s3://bench-sd/raw",
                    "-o", "json", str(flow), "stream", "--gib", str(gib)]
            start = time.perf_counter()
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=folder)
            out = process.stdout.read()
            err = process.stderr.read()
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            if status != 0:
                raise RuntimeError(f"flyrun run failed: {err.decode()[-2000:]}")
            rows = json.loads(out)["outputs"]["o0"] if b"outputs" in out else out.decode().strip()
            stored = sum(info["size"] for info in fs.find("bench-sd/raw", detail=True).values())
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    mib = stored / 2**20
    return [
        ("dataset (parquet on S3, MiB)", f"{mib:.0f}"),
        ("rows through both tasks", str(rows)),
        ("wall time of the run, s", f"{seconds:.1f}"),
        ("throughput (write + read), MiB/s", f"{2 * mib / seconds:.0f}"),
        ("peak RSS of the run, MiB", f"{usage.ru_maxrss / 1024:.0f}"),
    ]

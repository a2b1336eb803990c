"""DuckDBQuery over a local parquet dataset of FLYRUN_BENCH_DUCKDB_ROWS rows (default 20 million, in 8 files).

``flyrun run`` of a GROUP BY aggregation in a fresh process; prints the wall time and the peak RSS (wait4). A
local parquet dataset is a DuckDB view over its files, so the peak stays far below the data's in-memory size.

    PYTHONPATH=$PWD python3 bench/bench_duckdb.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("FLYRUN_BENCH_DUCKDB_ROWS", "20000000"))
FILES = 8
PROGRAM = """
from flyrun import kwtypes
from flyrun.plugins.duckdb import DuckDBQuery
from flyrun.types.structured import StructuredDataset

agg = DuckDBQuery(name="agg", query="SELECT vendor, COUNT(*) AS n, AVG(fare) AS mean, MAX(fare) AS top "
                                    "FROM trips GROUP BY vendor ORDER BY vendor",
                  inputs=kwtypes(trips=StructuredDataset))
"""


def main() -> None:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "trips")
        folder.mkdir()
        per_file = ROWS // FILES
        for index in range(FILES):
            duckdb.sql(f"COPY (SELECT (i % 7)::INTEGER AS vendor, random() * 100 AS fare, i AS id "
                       f"FROM range({per_file}) t(i)) TO '{folder / f'{index:05d}'}' (FORMAT parquet)")
        size = sum(p.stat().st_size for p in folder.iterdir())
        Path(tmp, "agg.py").write_text(PROGRAM)
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", "-o", "json", "agg.py", "agg",
                                 "--trips", str(folder)], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out = proc.stdout.read().decode() if proc.stdout else ""
        if status != 0:
            sys.exit(f"the run failed: {proc.stderr.read().decode() if proc.stderr else ''}")
        print(json.dumps({"rows": ROWS, "parquet_mb": round(size / 2**20, 1),
                          "in_memory_mb": round(ROWS * 20 / 2**20, 1),  # three 4/8/8-byte columns
                          "seconds": round(elapsed, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                          "result": json.loads(out)["outputs"]["result"]}))


if __name__ == "__main__":
    main()

"""Run every benchmark in bench/ (files named bench_*.py) and print their figures.

    python bench/run.py            all of them
    python bench/run.py startup    only bench_startup.py

Each module has ``run() -> list[tuple[str, str]]`` returning (what, figure) rows. Figures also go to
bench/results/<name>.json so they can be compared between commits.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(selected: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if selected and name not in selected:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {name}", flush=True)
        rows = module.run()
        for what, figure in rows:
            print(f"  {what:<60} {figure}", flush=True)
        (results / f"{name}.json").write_text(json.dumps(dict(rows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

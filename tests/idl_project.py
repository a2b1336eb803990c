"""A project for the IDL tests that uses every construct flyrun has (shared by the test_idl_* modules)."""

from __future__ import annotations

import json
from pathlib import Path

FLOWS = {
    "flows/__init__.py": "",
    "flows/types.py": '''
        from dataclasses import dataclass
        from enum import Enum
        from typing import List


        class Mode(Enum):
            FAST = "fast"
            SLOW = "slow"


        @dataclass
        class Point:
            x: float
            y: float


        @dataclass
        class Shape:
            name: str
            points: List[Point]
        ''',
    "flows/tasks.py": '''
        import datetime
        from typing import Dict, List, NamedTuple, Optional

        from flyrun import Resources, task
        from flows.types import Mode, Point, Shape


        class Bounds(NamedTuple):
            low: float
            high: float


        @task(retries=2, timeout=datetime.timedelta(minutes=5), cache=True, cache_version="1.2",
              requests=Resources(cpu="500m", mem="1Gi"), limits=Resources(cpu=1, mem="2Gi", gpu=1),
              environment={"LOG_LEVEL": "debug"}, interruptible=True)
        def make_shape(name: str, n: int = 3) -> Shape:
            return Shape(name=name, points=[Point(x=float(i), y=float(i * i)) for i in range(n)])


        @task(container_image="ghcr.io/example/special:1")
        def bounds(shape: Shape, mode: Mode = Mode.FAST, pad: Optional[float] = None) -> Bounds:
            ys = [p.y for p in shape.points]
            return Bounds(low=min(ys) - (pad or 0.0), high=max(ys) + (pad or 0.0))


        @task
        def total(values: List[float], weights: Dict[str, float], when: datetime.datetime,
                  every: datetime.timedelta) -> float:
            return sum(values) * sum(weights.values())


        @task
        def fail(message: str) -> int:
            raise ValueError(message)
        ''',
    "flows/pipeline.py": '''
        import datetime

        from flyrun import workflow
        from flows.tasks import bounds, make_shape, total
        from flows.types import Mode


        @workflow
        def span(name: str, n: int = 4) -> float:
            b = bounds(shape=make_shape(name=name, n=n), mode=Mode.SLOW)
            return total(values=[b.low, b.high, 1.5], weights={"a": b.high, "b": 2.0},
                         when=datetime.datetime(2024, 1, 2, 3, 4, 5), every=datetime.timedelta(seconds=90))


        @workflow
        def main(name: str = "square", n: int = 5) -> float:
            first = span(name=name, n=n)
            shape = make_shape(name=name)
            later = bounds(shape=shape)
            shape >> later
            return total(values=[first, later.high], weights={}, when=datetime.datetime(2024, 1, 1),
                         every=datetime.timedelta(minutes=1))
        ''',
    "flows/constructs.py": '''
        import datetime
        import functools
        from typing import List

        from flyrun import (ContainerTask, PodTemplate, approve, kwtypes, map_task, partial, sleep, task,
                            wait_for_input, workflow)
        from flows.types import Point

        POD = PodTemplate(pod_spec={"containers": [{"name": "primary", "env": [{"name": "A", "value": "1"}]},
                                                   {"name": "sidecar", "image": "busybox:1"}],
                                    "nodeSelector": {"disk": "ssd"}},
                          labels={"team": "geo"}, annotations={"note": "x"})


        @task
        def shift(p: Point, dx: float, label: str) -> Point:
            return Point(x=p.x + dx, y=p.y)


        @task(pod_template=POD, pod_template_name="base", environment={"MODE": "pod"})
        def count(points: List[Point]) -> int:
            return len(points)


        shell = ContainerTask(name="geo-shell", image="alpine:3", command=["sh", "-c", "echo {{.inputs.n}}"],
                              inputs=kwtypes(n=int), outputs=kwtypes(out=str), input_data_dir="/var/inputs",
                              output_data_dir="/var/outputs", metadata_format="YAML",
                              pod_template=PodTemplate(pod_spec={"containers": []}, primary_container_name="main"),
                              pod_template_name="raw-base")


        @workflow
        def gated(points: List[Point], dx: float = 1.0) -> str:
            moved = map_task(partial(shift, dx=dx, label="m"), concurrency=4, min_success_ratio=0.5)(p=points)
            n = count(points=points)
            ok = approve(n, "check-count", timeout=datetime.timedelta(minutes=30))
            who = wait_for_input("who", timeout=600, expected_type=str)
            pause = sleep(datetime.timedelta(seconds=5))
            out = shell(n=ok)
            pause >> out
            also = map_task(functools.partial(shift, label="f"))(p=points, dx=[1.0, 2.0])
            moved >> also
            return who
        ''',
    "README.md": "not code\n",
    "flows/data.csv": "a,b\n1,2\n",
}


def spec_files(output_dir: Path) -> dict[str, dict]:
    """Every entity file of a package, by its path relative to the folder."""
    manifest = json.loads((output_dir / "manifest.json").read_text())
    return {entry["file"]: json.loads((output_dir / entry["file"]).read_text()) for entry in manifest["entities"]}

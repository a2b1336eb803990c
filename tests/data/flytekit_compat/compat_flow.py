"""A flytekit program, imports unchanged: `flyrun run --flytekit-compat` must give what `pyflyte run` gives."""

from typing import List

from flytekit import map_task, task, workflow
from flytekit.types.file import FlyteFile


@task
def spread(n: int) -> List[int]:
    return [n, n + 1, n + 2]


@task
def square(x: int) -> int:
    return x * x


@task
def describe(xs: List[int], label: str) -> str:
    return f"{label}: {sum(xs)}"


@task
def write(text: str) -> FlyteFile:
    path = "out.txt"
    with open(path, "w") as f:
        f.write(text)
    return FlyteFile(path)


@task
def read(f: FlyteFile) -> str:
    with open(f) as handle:
        return handle.read().upper()


@workflow
def wf(n: int = 3, label: str = "sum") -> str:
    squares = map_task(square)(x=spread(n=n))
    return read(f=write(text=describe(xs=squares, label=label)))

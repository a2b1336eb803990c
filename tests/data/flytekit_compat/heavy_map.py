"""A CPU-bound flytekit map: worker processes import this module again, in compatibility mode too."""

from typing import List

from flytekit import map_task, task, workflow


@task
def spin(x: int) -> int:
    total = 0
    for i in range(200_000):
        total += i % (x + 1)
    return total


@task
def items(n: int) -> List[int]:
    return list(range(n))


@workflow
def wf(n: int = 60) -> List[int]:
    return map_task(spin)(x=items(n=n))

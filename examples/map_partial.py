"""A map task over a partial (the issue's seed example; only the import line is flyrun's).

    flyrun run examples/map_partial.py wf --y '[1.5, 2.5, 4]'
"""

from typing import List

from flyrun import map_task, partial, task, workflow


@task
def t1(x: int, y: float) -> float:
    return x + y


@workflow
def wf(y: List[float]) -> List[float]:
    partial_t1 = partial(t1, x=5)
    return map_task(partial_t1)(y=y)

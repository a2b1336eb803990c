"""A functools.partial of a task, called in a workflow (the issue's seed example).

    flyrun run examples/partial_task.py wf --a 3
"""

import functools

from flyrun import task, workflow


@task
def t1(a: int, b: str) -> str:
    return f"{a} -> {b}"


t1_fixed_b = functools.partial(t1, b="hello")


@workflow
def wf(a: int) -> str:
    return t1_fixed_b(a=a)

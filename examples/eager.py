"""Eager workflows (flytekit 1.16 semantics): sync tasks are called without ``await`` and return their value;
``async def`` tasks and nested eager workflows are awaited, and ``asyncio.gather`` runs them concurrently.

    flyrun run examples/eager.py simple_eager --x 3
    flyrun run examples/eager.py gathered --x 3
"""

import asyncio

from flyrun import eager, task, workflow


@task
def add_one(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@task
async def async_add_one(x: int) -> int:
    await asyncio.sleep(0.01)
    return x + 1


@task
def raises_exc(x: int) -> int:
    if x <= 0:
        raise ValueError("x must be positive")
    return x


@workflow
def subworkflow(x: int) -> int:
    return double(x=add_one(x=x))


@eager
async def simple_eager(x: int) -> int:
    out = add_one(x=x)  # a sync task: no await, a real int
    if out % 2 == 0:
        return double(x=out)
    return add_one(x=out)


@eager
async def gathered(x: int) -> list[int]:
    return list(await asyncio.gather(*[async_add_one(x=x + i) for i in range(5)]))


@eager
async def with_subworkflow(x: int) -> int:
    return subworkflow(x=x)


@eager
async def nested(x: int) -> int:
    first = await simple_eager(x=x)
    return first + await async_add_one(x=first)


@eager
async def caught(x: int) -> int:
    try:
        return raises_exc(x=x)
    except Exception:  # a task's failure raises here (flytekit: EagerException)
        return -1

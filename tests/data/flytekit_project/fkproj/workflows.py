"""A small flytekit project: the sandbox runs it with flytekit's own entrypoints (pyflyte-fast-execute)."""

from typing import List

from flytekit import map_task, task, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def greet(name: str, times: int) -> str:
    return " ".join([f"hello {name}"] * times)


@workflow
def hello(name: str = "world", x: int = 3) -> str:
    return greet(name=name, times=double(x=x))


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: List[int]) -> int:
    return sum(xs)


@workflow
def squares(xs: List[int]) -> int:
    return total(xs=map_task(square)(x=xs))


@task
def explode(x: int) -> int:
    if x > 2:
        raise ValueError(f"x is too big: {x}")
    return x


@workflow
def failing(x: int = 5) -> int:
    return explode(x=x)

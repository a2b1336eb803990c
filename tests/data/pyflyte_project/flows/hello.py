"""A small flytekit program, unchanged from what a flytekit user writes: registered and run by pyflyte."""

from datetime import timedelta
from typing import List

from flytekit import LaunchPlan, approve, map_task, task, wait_for_input, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def greet(name: str, times: int) -> str:
    return f"hello {name} x{times}"


@workflow
def wf(x: int = 3) -> int:
    return double(x=x)


@workflow
def greeting(name: str = "flyte", x: int = 2) -> str:
    return greet(name=name, times=double(x=x))


@task
def explode(x: int) -> int:
    if x > 0:
        raise ValueError(f"refusing {x}")
    return x


@workflow
def failing(x: int = 1) -> int:
    return explode(x=x)


@workflow
def mapped(xs: List[int]) -> List[int]:
    return map_task(double)(x=xs)


@workflow
def asks(x: int = 1) -> int:
    """Only gates: runs without any task container, so the signal path is testable on its own."""
    answer = wait_for_input("answer", timeout=timedelta(minutes=10), expected_type=int)
    return approve(answer, "review", timeout=timedelta(minutes=10))


plan = LaunchPlan.get_or_create(wf, name="flows.hello.wf_five", default_inputs={"x": 5})

"""The smallest flyrun workflow: `flyrun run examples/hello.py wf --x 3`."""

from flyrun import task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def greet(name: str, value: int) -> str:
    return f"Hello {name}, the answer is {value}"


@workflow
def wf(x: int = 2, name: str = "world") -> str:
    return greet(name=name, value=square(x=x))

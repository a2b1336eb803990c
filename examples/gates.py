"""Gates: an approval, a value from outside, and a sleep.

    flyrun run examples/gates.py report --x 3 --approve review --signal title=Q3
    flyrun run examples/gates.py report --x 3          # on a terminal: asks for both
"""

from datetime import timedelta

from flyrun import approve, sleep, task, wait_for_input, workflow


@task
def compute(x: int) -> int:
    return x * x


@task
def publish(value: int, title: str) -> str:
    return f"{title}: {value}"


@workflow
def report(x: int) -> str:
    value = compute(x=x)
    approved = approve(value, "review", timeout=timedelta(hours=2))
    title = wait_for_input("title", timeout=timedelta(hours=1), expected_type=str)
    pause = sleep(timedelta(seconds=30))
    result = publish(value=approved, title=title)
    pause >> result
    return result

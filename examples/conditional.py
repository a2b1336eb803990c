"""Conditionals, named outputs and promise attributes: `flyrun run examples/conditional.py shape --radius 2.5`."""

from dataclasses import dataclass
from typing import List, NamedTuple, Optional

from flyrun import conditional, task, workflow


class Bounds(NamedTuple):
    low: float
    high: float


@dataclass
class Report:
    kind: str
    values: List[float]


@task
def circumference(radius: float) -> float:
    return 2 * 3.14159 * radius


@task
def circle_area(radius: float) -> float:
    return 3.14159 * radius * radius


@task
def bounds(radius: float) -> Bounds:
    return Bounds(low=radius * 0.9, high=radius * 1.1)


@task
def report(kind: str, low: float, high: float) -> Report:
    return Report(kind=kind, values=[low, high])


@task
def describe(kind: str, upper: float, size: float) -> str:
    return f"{kind}: {size:.2f} (radius up to {upper:.2f})"


@task
def tag(text: str, label: Optional[str]) -> str:
    return f"{text} [{label}]"


@workflow
def shape(radius: float, label: Optional[str] = None) -> str:
    # `radius < 1` compares floats: a constant takes the type of the promise it is compared with.
    size = conditional("shape_properties").if_((radius >= 0.1) & (radius < 1)).then(circumference(radius=radius)) \
        .elif_((radius >= 1) & (radius <= 10)).then(circle_area(radius=radius)) \
        .else_().fail("The radius must be between 0.1 and 10")
    b = bounds(radius=radius)
    r = report(kind="circle", low=b.low, high=b.high)
    text = describe(kind=r.kind, upper=r.values[1], size=size)
    return conditional("labelled").if_(label.is_none()).then(tag(text=text, label="no label")) \
        .else_().then(tag(text=text, label=label))

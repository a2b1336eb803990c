"""Shared types and tasks, imported by the pipelines in this package."""

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from flyrun import task


class Unit(Enum):
    CM = "cm"
    INCH = "inch"


@dataclass
class Rect:
    width: float
    height: float


class Stats(NamedTuple):
    total_area: float
    largest: float


@task
def area(rect: Rect) -> float:
    return rect.width * rect.height


@task
def summarize(areas: list[float], unit: Unit = Unit.CM) -> Stats:
    return Stats(total_area=sum(areas), largest=max(areas))

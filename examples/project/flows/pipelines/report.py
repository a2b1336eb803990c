"""A workflow in a nested package: it imports its tasks both absolutely and relatively.

    flyrun run examples/project/flows/pipelines/report.py report --rects '[{"width": 2, "height": 3}]'
"""


from flows.shapes import Rect, Stats, area
from flyrun import task, workflow

from ..shapes import summarize


@task
def scale(rect: Rect, factor: float) -> Rect:
    return Rect(width=rect.width * factor, height=rect.height * factor)


@task
def rects_first(rects: list[Rect]) -> Rect:
    return rects[0]


@task
def areas_of(rects: list[Rect], extra: float) -> list[float]:
    return [r.width * r.height for r in rects] + [extra]


@workflow
def one(rect: Rect, factor: float = 2.0) -> float:
    return area(rect=scale(rect=rect, factor=factor))


@workflow
def report(rects: list[Rect], factor: float = 1.0) -> Stats:
    first = one(rect=rects_first(rects=rects), factor=factor)
    return summarize(areas=areas_of(rects=rects, extra=first))

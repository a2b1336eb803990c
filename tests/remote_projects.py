"""Projects that the remote tests run on `flyrun sandbox`.

``shop``: a package of two modules (the workflow module imports its tasks with an absolute and a relative import)
taking a local file and a local folder. ``stages``: a single file with a task that raises, one that sleeps, a
``wait_for_input(int)`` gate and an ``approve`` gate. ``boxes``: a workflow whose inputs are dataclasses (nested,
in a list and a map, and as a default), an enum, a plain dict, a file and a folder.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

SHOP_TASKS = '''
from typing import List

from flyrun import FlyteDirectory, FlyteFile, task


@task
def count_lines(ff: FlyteFile) -> int:
    with ff.open("r") as f:
        return len(f.read().splitlines())


@task
def list_names(fd: FlyteDirectory) -> List[str]:
    return sorted(relative for _, relative in fd.crawl())
'''

SHOP_FLOW = '''
from typing import List, Tuple

from flyrun import FlyteDirectory, FlyteFile, task, workflow

from shop.tasks import count_lines
from .tasks import list_names


@task
def describe(lines: int, names: List[str]) -> str:
    return f"{lines} lines; files: {', '.join(names)}"


@workflow
def inventory(ff: FlyteFile, fd: FlyteDirectory) -> Tuple[str, int]:
    n = count_lines(ff=ff)
    return describe(lines=n, names=list_names(fd=fd)), n
'''

STAGES = '''
import time

from flyrun import approve, task, wait_for_input, workflow


@task
def check(x: int) -> int:
    if x > 1:
        raise ValueError(f"x is too big: {x}")
    return x


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task
def double(n: int) -> int:
    return n * 2


@workflow
def breaks(x: int = 5) -> int:
    return double(n=check(x=x))


@workflow
def sleepy(seconds: float = 20.0) -> float:
    return nap(seconds=seconds)


@workflow
def asks() -> int:
    return double(n=wait_for_input("count", timeout=600, expected_type=int))


@workflow
def reviewed(x: int = 1) -> int:
    return approve(double(n=x), "review")
'''


BOXES = '''
import enum
from dataclasses import dataclass

from flyrun import FlyteDirectory, FlyteFile, task, workflow


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Size:
    width: int
    height: float


@dataclass
class Box:
    name: str
    size: Size
    color: Color


@task
def describe(boxes: list[Box], spares: dict[str, Size], color: Color, extra: dict, notes: FlyteFile,
             data: FlyteDirectory, first: Box) -> str:
    with notes.open("r") as f:
        text = f.read().strip()
    names = sorted(relative for _, relative in data.crawl())
    widths = sum(b.size.width for b in boxes) + sum(s.width for s in spares.values())
    return (f"{first.name},{','.join(b.name for b in boxes)} {widths} {color.value} {sorted(extra)} {text} "
            f"{names} {type(boxes[0].size.width).__name__} {type(boxes[0].color).__name__}")


@workflow
def pack(boxes: list[Box], spares: dict[str, Size], color: Color, extra: dict, notes: FlyteFile,
         data: FlyteDirectory, first: Box = Box("a", Size(1, 2.5), Color.RED)) -> str:
    return describe(boxes=boxes, spares=spares, color=color, extra=extra, notes=notes, data=data, first=first)
'''
BOXES_INPUTS = ["--boxes", '[{"name": "b", "size": {"width": 2, "height": 1.5}, "color": "blue"}]',
                "--spares", '{"x": {"width": 3, "height": 1}}', "--color", "blue", "--extra", '{"k": [1, "two"]}',
                "--notes", "notes.txt", "--data", "data"]


def write_boxes(base: Path) -> Shop:
    """``boxes.py`` in a project folder, and its file and folder inputs in another (see ``BOXES_INPUTS``)."""
    root = base / "boxes"
    root.mkdir(parents=True)
    (root / "boxes.py").write_text(BOXES.lstrip())
    work = base / "boxes-work"
    (work / "data").mkdir(parents=True)
    (work / "notes.txt").write_text("hi\n")
    (work / "data" / "one.txt").write_text("1")
    return Shop(root, root / "boxes.py", work)


@dataclass
class Shop:
    root: Path  # the project root (holds the package)
    flow: Path  # shop/flow.py
    work: Path  # another folder: the inputs, and where flyrun runs

    @property
    def inputs(self) -> list[str]:
        return ["--ff", "notes.txt", "--fd", "data"]


def write_shop(base: Path) -> Shop:
    package = base / "proj" / "shop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(textwrap.dedent(SHOP_TASKS))
    (package / "flow.py").write_text(textwrap.dedent(SHOP_FLOW))
    work = base / "work"
    (work / "data" / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    (work / "data" / "one.txt").write_text("1")
    (work / "data" / "sub" / "two.txt").write_text("2")
    return Shop(base / "proj", package / "flow.py", work)


def write_stages(base: Path) -> Path:
    path = base / "stages" / "stages.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(STAGES))
    return path

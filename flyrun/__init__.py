"""flyrun: a fast, pyflyte-style workflow SDK and runner.

The public names are resolved lazily so that ``import flyrun`` (and ``flyrun --help``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyrun.__about__ import __version__

_EXPORTS = {
    "task": "flyrun.sdk.task",
    "Resources": "flyrun.sdk.task",
    "PythonFunctionTask": "flyrun.sdk.task",
    "workflow": "flyrun.sdk.workflow",
    "conditional": "flyrun.sdk.conditions",
    "Workflow": "flyrun.sdk.workflow",
    "kwtypes": "flyrun.sdk.interface",
    "map_task": "flyrun.sdk.map",
    "partial": "flyrun.sdk.map",
    "approve": "flyrun.sdk.gates",
    "wait_for_input": "flyrun.sdk.gates",
    "sleep": "flyrun.sdk.gates",
    "ContainerTask": "flyrun.sdk.container",
    "PodTemplate": "flyrun.sdk.container",
    "FlyteFile": "flyrun.data.files",
    "FlyteDirectory": "flyrun.data.files",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from flyrun.data.files import FlyteDirectory, FlyteFile
    from flyrun.sdk.conditions import conditional
    from flyrun.sdk.container import ContainerTask, PodTemplate
    from flyrun.sdk.gates import approve, sleep, wait_for_input
    from flyrun.sdk.interface import kwtypes
    from flyrun.sdk.map import map_task, partial
    from flyrun.sdk.task import PythonFunctionTask, Resources, task
    from flyrun.sdk.workflow import Workflow, workflow


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flyrun' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

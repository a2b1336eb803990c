"""flyrun: a fast, pyflyte-style workflow SDK and runner.

The public names are resolved lazily so that ``import flyrun`` (and ``flyrun --help``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyrun.__about__ import __version__

_EXPORTS = {
    "task": "flyrun.sdk.task",
    "Resources": "flyrun.sdk.resources",
    "PythonFunctionTask": "flyrun.sdk.task",
    "workflow": "flyrun.sdk.workflow",
    "dynamic": "flyrun.sdk.dynamic",
    "eager": "flyrun.sdk.eager",
    # flytekit's top-level ``Workflow`` is its imperative builder; the traced class stays flyrun.sdk.workflow's.
    "Workflow": "flyrun.sdk.imperative",
    "ImperativeWorkflow": "flyrun.sdk.imperative",
    "reference_task": "flyrun.sdk.reference",
    "reference_workflow": "flyrun.sdk.reference",
    "reference_launch_plan": "flyrun.sdk.reference",
    "ReferenceEntity": "flyrun.sdk.reference",
    "ReferenceTask": "flyrun.sdk.reference",
    "ReferenceWorkflow": "flyrun.sdk.reference",
    "ReferenceLaunchPlan": "flyrun.sdk.reference",
    "get_reference_entity": "flyrun.sdk.reference",
    "conditional": "flyrun.sdk.conditions",
    "Labels": "flyrun.sdk.labels",
    "Annotations": "flyrun.sdk.labels",
    "kwtypes": "flyrun.sdk.interface",
    "map_task": "flyrun.sdk.map",
    "partial": "flyrun.sdk.map",
    "approve": "flyrun.sdk.gates",
    "wait_for_input": "flyrun.sdk.gates",
    "sleep": "flyrun.sdk.gates",
    "ContainerTask": "flyrun.sdk.container",
    "PodTemplate": "flyrun.sdk.pods",
    "FlyteFile": "flyrun.data.files",
    "FlyteDirectory": "flyrun.data.files",
    "LaunchPlan": "flyrun.sdk.launch_plan",
    "CronSchedule": "flyrun.sdk.schedule",
    "FixedRate": "flyrun.sdk.schedule",
    "Email": "flyrun.sdk.notification",
    "Slack": "flyrun.sdk.notification",
    "PagerDuty": "flyrun.sdk.notification",
    "WorkflowExecutionPhase": "flyrun.sdk.notification",
    "WorkflowFailurePolicy": "flyrun.sdk.failure",
    "FlyteError": "flyrun.types.error",
    "create_node": "flyrun.sdk.graph",
    "TaskMetadata": "flyrun.sdk.task",
    "Secret": "flyrun.sdk.secrets",
    "current_context": "flyrun.sdk.params",
    "Deck": "flyrun.deck",
    "HashMethod": "flyrun.types.annotated",
    "StructuredDataset": "flyrun.types.structured",
    "ImageSpec": "flyrun.sdk.image_spec",
    "Cache": "flyrun.sdk.cache",
    "CachePolicy": "flyrun.sdk.cache",
    "Documentation": "flyrun.sdk.docs",
    "Description": "flyrun.sdk.docs",
    "SourceCode": "flyrun.sdk.docs",
    "FlyteContext": "flyrun.data.flytecontext",
    "FlyteContextManager": "flyrun.data.flytecontext",
    "StructuredDatasetTransformerEngine": "flyrun.types.structured",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from flyrun.data.files import FlyteDirectory, FlyteFile
    from flyrun.data.flytecontext import FlyteContext, FlyteContextManager
    from flyrun.deck import Deck
    from flyrun.sdk.cache import Cache, CachePolicy
    from flyrun.sdk.conditions import conditional
    from flyrun.sdk.container import ContainerTask
    from flyrun.sdk.docs import Description, Documentation, SourceCode
    from flyrun.sdk.dynamic import dynamic
    from flyrun.sdk.eager import eager
    from flyrun.sdk.failure import WorkflowFailurePolicy
    from flyrun.sdk.gates import approve, sleep, wait_for_input
    from flyrun.sdk.graph import create_node
    from flyrun.sdk.image_spec import ImageSpec
    from flyrun.sdk.imperative import ImperativeWorkflow, Workflow
    from flyrun.sdk.interface import kwtypes
    from flyrun.sdk.labels import Annotations, Labels
    from flyrun.sdk.launch_plan import LaunchPlan
    from flyrun.sdk.map import map_task, partial
    from flyrun.sdk.notification import Email, PagerDuty, Slack, WorkflowExecutionPhase
    from flyrun.sdk.params import current_context
    from flyrun.sdk.pods import PodTemplate
    from flyrun.sdk.reference import (
        ReferenceEntity,
        ReferenceLaunchPlan,
        ReferenceTask,
        ReferenceWorkflow,
        get_reference_entity,
        reference_launch_plan,
        reference_task,
        reference_workflow,
    )
    from flyrun.sdk.resources import Resources
    from flyrun.sdk.schedule import CronSchedule, FixedRate
    from flyrun.sdk.secrets import Secret
    from flyrun.sdk.task import PythonFunctionTask, TaskMetadata, task
    from flyrun.sdk.workflow import workflow
    from flyrun.types.annotated import HashMethod
    from flyrun.types.error import FlyteError
    from flyrun.types.structured import StructuredDataset, StructuredDatasetTransformerEngine


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flyrun' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

"""``ContainerTask``: Flyte's raw container task.

What a serializer reads (flyte-protocol.md section 6, flytekit's ContainerTask):

- ``ContainerTask``: ``task_type`` ("raw-container"), ``name`` (as given, not prefixed), ``image``, ``command``,
  ``arguments``, ``input_data_dir``, ``output_data_dir``, ``metadata_format`` ("JSON" | "YAML" | "PROTO", the
  ``DataLoadingConfig`` format), ``requests``/``limits`` (``Resources``), ``environment``, ``pod_template``,
  ``pod_template_name``, ``metadata`` (``TaskMetadata``: retries, timeout, cache, cache_version), ``interface``
  and ``module`` (the module that created it). ``{{.inputs.x}}`` templates stay in the command; the platform fills
  them in.
- ``PodTemplate`` (``flyrun.sdk.pods``): ``pod_spec_dict`` (the pod spec in Kubernetes JSON form: camelCase keys,
  via the kubernetes client's ``sanitize_for_serialization`` for a ``V1PodSpec``), ``labels``, ``annotations``,
  ``primary_container_name`` and ``version_hash()``.
"""

from __future__ import annotations

import enum
import os
import sys
import types
from typing import Any

from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.protocol.templates import INPUT_TEMPLATE
from flyrun.sdk import graph
from flyrun.sdk.context import current_context
from flyrun.sdk.entity import Entity
from flyrun.sdk.interface import Interface
from flyrun.sdk.resources import Resources
from flyrun.sdk.task import cached_execute, checked_pod_settings, task_metadata
from flyrun.types import engine

METADATA_FORMATS = ("JSON", "YAML", "PROTO")


class ContainerTask(Entity):
    """A task that runs ``command`` in ``image``; inputs and outputs travel through files in the data dirs."""

    kind = "task"
    task_type = "raw-container"

    class MetadataFormat(enum.Enum):
        JSON = "JSON"
        YAML = "YAML"
        PROTO = "PROTO"

    def __init__(self, name: str, image: str, command: list[str], inputs: dict[str, Any] | None = None,
                 outputs: dict[str, Any] | None = None, input_data_dir: str | None = None,
                 output_data_dir: str | None = None, metadata_format: str | MetadataFormat = "JSON",
                 arguments: list[str] | None = None, requests: Resources | None = None,
                 limits: Resources | None = None, environment: dict[str, str] | None = None,
                 pod_template: Any = None, pod_template_name: str | None = None, retries: int = 0,
                 timeout: Any = None, cache: bool = False, cache_version: str = "",
                 interruptible: bool | None = None) -> None:
        self.call_site = graph.user_call_site()
        where = f"{self.call_site}: ContainerTask {name!r}"
        if not isinstance(name, str) or not name.strip():
            raise WorkflowDefinitionError(f"{where}: name must be a non-empty string")
        self.name = name
        self.module = _defining_module()
        self.image = _checked_text(image, "image", where)
        self.command = _checked_words(command, "command", where, required=True)
        self.arguments = _checked_words(arguments, "arguments", where, required=False)
        self.interface = Interface(inputs=dict(inputs or {}), outputs=dict(outputs or {}))
        _check_types(self.interface, where)
        self.input_data_dir = _checked_dir(input_data_dir, "input_data_dir", where)
        self.output_data_dir = _checked_dir(output_data_dir, "output_data_dir", where)
        if self.interface.outputs and self.output_data_dir is None:
            raise WorkflowDefinitionError(f"{where}: it declares outputs ({', '.join(self.interface.outputs)}) "
                                          "but no output_data_dir to read them from")
        self.metadata_format = _checked_format(metadata_format, where)
        _check_templates(self.command + self.arguments, self.interface, where)
        self.requests, self.limits = _checked_resources(requests, "requests", where), _checked_resources(
            limits, "limits", where)
        self.environment = _checked_environment(environment, where)
        self.pod_template, self.pod_template_name = checked_pod_settings(pod_template, pod_template_name, where)
        self.metadata = task_metadata(where, retries=retries, timeout=timeout, cache=cache,
                                      cache_version=cache_version, interruptible=interruptible)

    @property
    def attribute(self) -> str | None:
        """The module-level name this task is bound to, if any (found when asked, not when created)."""
        return self.module_attribute(self.module)

    @property
    def short_name(self) -> str:
        """What ``flyrun run FILE NAME`` calls it: the variable it is bound to (its ``name`` may have dashes)."""
        return self.attribute or self.name

    def referenced_inputs(self) -> list[str]:
        """Inputs named by ``{{.inputs.x}}`` templates in the command and arguments, in order."""
        names = [m.group(1) for word in self.command + self.arguments for m in INPUT_TEMPLATE.finditer(word)]
        return list(dict.fromkeys(names))

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return cached_execute(self, inputs, self._run)

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        runner = current_context().container_runner
        if runner is None:
            raise UsageError(f"container task {self.name} can only run through `flyrun run`",
                             hint="flyrun run FILE WORKFLOW [--container-runtime host]")
        return runner(self, inputs)

    def __repr__(self) -> str:
        return f"<container task {self.name} ({self.image})>"


def _defining_module() -> str:
    """The module of the first frame outside flyrun: where a ContainerTask is created, like flytekit's tracker."""
    frame: types.FrameType | None = sys._getframe(1)
    flyrun_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while frame is not None and frame.f_code.co_filename.startswith(flyrun_dir):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "__main__") if frame is not None else "__main__"


def _checked_text(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WorkflowDefinitionError(f"{where}: {what} must be a non-empty string, not {value!r}")
    return value


def _checked_words(value: Any, what: str, where: str, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, (list, tuple)) or (required and not value):
        raise WorkflowDefinitionError(f"{where}: {what} must be a {'non-empty ' * required}list of strings, "
                                      f"not {value!r}")
    bad = [word for word in value if not isinstance(word, str)]
    if bad:
        raise WorkflowDefinitionError(f"{where}: every word of {what} must be a string; {bad[0]!r} is "
                                      f"{type(bad[0]).__name__}", hint=f"write it as {str(bad[0])!r}")
    return list(value)


def _checked_dir(value: Any, what: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise WorkflowDefinitionError(f"{where}: {what} must be an absolute path inside the container, e.g. "
                                      f"/var/inputs, not {value!r}")
    return value.rstrip("/") or "/"


def _checked_format(value: Any, where: str) -> str:
    text = value.value if isinstance(value, ContainerTask.MetadataFormat) else value
    if isinstance(text, str) and text.upper() in METADATA_FORMATS:
        return text.upper()
    raise WorkflowDefinitionError(f"{where}: metadata_format must be one of {', '.join(METADATA_FORMATS)}, "
                                  f"not {value!r}")


def _check_types(interface: Interface, where: str) -> None:
    for label, declared in (("input", interface.inputs), ("output", interface.outputs)):
        for name, python_type in declared.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise WorkflowDefinitionError(f"{where}: {label} name {name!r} is not a valid identifier")
            try:
                literal_type = engine.literal_type(python_type)
            except engine.TypeMismatch as exc:
                raise WorkflowDefinitionError(f"{where}: {label} '{name}': {exc}") from None
            if label == "output" and not ({"simple", "blob"} & set(literal_type)):
                raise WorkflowDefinitionError(
                    f"{where}: output '{name}' is {engine.describe(python_type)}; a container's outputs are read "
                    "from one file each, so they must be simple values (int, float, str, bool, datetime, "
                    "timedelta, a dataclass as JSON) or files")


def _check_templates(words: list[str], interface: Interface, where: str) -> None:
    for word in words:
        for match in INPUT_TEMPLATE.finditer(word):
            name = match.group(1)
            if name not in interface.inputs:
                raise WorkflowDefinitionError(
                    f"{where}: the command refers to {match.group(0)} but the inputs are: "
                    f"{', '.join(interface.inputs) or 'none'}")
            if not _templatable(engine.literal_type(interface.inputs[name])):
                raise WorkflowDefinitionError(
                    f"{where}: {match.group(0)} is {engine.describe(interface.inputs[name])}; only simple values, "
                    "files and lists of them can be put in a command", hint=f"read it from input_data_dir/{name}")


def _templatable(literal_type: dict) -> bool:
    """What propeller can write into a command: primitives, enums, files, and lists of those."""
    if "collection_type" in literal_type:
        return _templatable(literal_type["collection_type"])
    return "blob" in literal_type or "enum_type" in literal_type or \
        literal_type.get("simple") not in (None, "STRUCT", "NONE", "BINARY", "ERROR")


def _checked_resources(value: Any, what: str, where: str) -> Resources | None:
    if value is not None and not isinstance(value, Resources):
        raise WorkflowDefinitionError(f"{where}: {what} must be Resources(cpu=..., mem=...), not {value!r}")
    return value


def _checked_environment(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise WorkflowDefinitionError(f"{where}: environment must be a dict of strings to strings, not {value!r}")
    return dict(value)

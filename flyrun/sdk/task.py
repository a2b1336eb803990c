"""``@task``: a typed Python function that runs as one unit of work."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyrun.errors import FlyrunError, TaskExecutionError, WorkflowDefinitionError
from flyrun.exceptions.user import FlyteRecoverableException
from flyrun.sdk.context import current_context
from flyrun.sdk.entity import Entity
from flyrun.sdk.interface import interface_from_function
from flyrun.sdk.params import task_scope  # here, not at the first call: a map's probe times items, not imports
from flyrun.sdk.pods import PodTemplate
from flyrun.types import engine

if TYPE_CHECKING:
    from flyrun.sdk.image_spec import ImageSpec
    from flyrun.sdk.resources import Resources
    from flyrun.sdk.secrets import Secret


@dataclass(frozen=True)
class TaskMetadata:
    """flytekit's ``TaskMetadata``: what a task declares about how it runs (``metadata=`` of a task)."""

    retries: int = 0
    timeout: dt.timedelta | int | None = None
    cache: bool = False
    cache_version: str = ""
    interruptible: bool | None = None
    deprecated: str = ""
    cache_serialize: bool = False
    cache_ignore_input_vars: tuple[str, ...] = ()


def _merged_metadata(where: str, metadata: Any, deprecated: str, **settings: Any) -> TaskMetadata:
    """``metadata=TaskMetadata(...)`` wins over the decorator's own settings; both are checked alike."""
    if metadata is not None:
        if not isinstance(metadata, TaskMetadata):
            raise WorkflowDefinitionError(f"{where}: metadata must be a TaskMetadata, not {metadata!r}")
        settings = dict(retries=metadata.retries, timeout=metadata.timeout, cache=metadata.cache,
                        cache_version=metadata.cache_version, interruptible=metadata.interruptible)
        deprecated = metadata.deprecated or deprecated
    checked = task_metadata(where, **settings)
    if not isinstance(deprecated, str):
        raise WorkflowDefinitionError(f"{where}: deprecated must be a message string, not {deprecated!r}")
    serialize = bool(metadata.cache_serialize) if metadata is not None else False
    ignored = tuple(metadata.cache_ignore_input_vars) if metadata is not None else ()
    return dataclasses.replace(checked, deprecated=deprecated, cache_serialize=serialize,
                               cache_ignore_input_vars=ignored)


def task_metadata(where: str, retries: int = 0, timeout: dt.timedelta | int | None = None, cache: bool = False,
                  cache_version: str = "", interruptible: bool | None = None) -> TaskMetadata:
    """Checked metadata shared by every kind of task; a bare timeout number means seconds."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = dt.timedelta(seconds=timeout)
    if timeout is not None and not isinstance(timeout, dt.timedelta):
        raise WorkflowDefinitionError(f"{where}: timeout must be a timedelta or seconds, not {timeout!r}")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise WorkflowDefinitionError(f"{where}: retries must be >= 0, not {retries!r}")
    if not isinstance(cache_version, str):
        raise WorkflowDefinitionError(f"{where}: cache_version must be a string, not {cache_version!r}")
    # A Cache(...) where only True/False is taken (container and shell tasks).
    if cache is not None and not isinstance(cache, (bool, int)):
        raise WorkflowDefinitionError(f"{where}: cache must be True or False here, not {cache!r}",
                                      hint='cache=True, cache_version="1"')
    if cache and not cache_version:
        cache_version = "0"
    return TaskMetadata(retries=retries, timeout=timeout, cache=bool(cache), cache_version=cache_version,
                        interruptible=interruptible)


def _input_names(names: Any, where: str) -> tuple[str, ...]:
    """``cache_ignore_input_vars``: one input name or a sequence of them."""
    names = (names,) if isinstance(names, str) else names
    if not isinstance(names, (tuple, list)) or not all(isinstance(n, str) for n in names):
        raise WorkflowDefinitionError(f"{where}: cache_ignore_input_vars must be a tuple of input names, not "
                                      f"{names!r}")
    return tuple(names)


def task_name(fn: Callable[..., Any]) -> str:
    """Flyte's entity name: ``<module>.<function>``, the module dotted from the project root."""
    return f"{fn.__module__}.{fn.__qualname__}"


def _checked_image(image: Any, where: str) -> Any:
    """A task's image: an image reference, a name from the images table, or an ImageSpec."""
    if image is None or isinstance(image, str):
        return image
    from flyrun.sdk.image_spec import ImageSpec

    if isinstance(image, ImageSpec):
        return image
    raise WorkflowDefinitionError(f"{where}: container_image must be an image reference, an image name or an "
                                  f"ImageSpec, not {type(image).__name__}")


class PythonFunctionTask(Entity):
    kind = "task"
    task_type = "python-task"

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, retries: int = 0,
                 timeout: dt.timedelta | int | None = None, cache: bool = False, cache_version: str = "",
                 requests: Resources | None = None, limits: Resources | None = None,
                 container_image: str | ImageSpec | None = None, environment: dict[str, str] | None = None,
                 pod_template: Any = None, pod_template_name: str | None = None,
                 interruptible: bool | None = None, task_config: Any = None, deprecated: str = "",
                 metadata: TaskMetadata | None = None, cache_serialize: bool = False,
                 secret_requests: list[Any] | None = None, enable_deck: bool = False,
                 deck_fields: Any = None, cache_ignore_input_vars: tuple[str, ...] | list[str] = (),
                 docs: Any = None) -> None:
        self.fn = fn
        self.name = name or task_name(fn)
        where = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}: task '{self.name}'"
        # flytekit's Cache(...): its module is loaded only by tasks that use one.
        if cache is not None and not isinstance(cache, (bool, int)):
            from flyrun.sdk.cache import VersionParameters, task_cache_settings

            params = VersionParameters(func=fn, container_image=container_image, pod_template=pod_template,
                                       pod_template_name=pod_template_name)
            cache_version, cache_serialize, cache_ignore_input_vars = task_cache_settings(
                cache, where, params, cache_version=cache_version, cache_serialize=cache_serialize,
                cache_ignore_input_vars=cache_ignore_input_vars)
            cache = True
        self.metadata = _merged_metadata(where, metadata, deprecated, retries=retries, timeout=timeout, cache=cache,
                                         cache_version=cache_version, interruptible=interruptible)
        if cache_serialize:
            self.metadata = dataclasses.replace(self.metadata, cache_serialize=True)
        if cache_ignore_input_vars:
            self.metadata = dataclasses.replace(self.metadata,
                                                cache_ignore_input_vars=_input_names(cache_ignore_input_vars, where))
        # A plugin's settings object (flytekit's task_config); plain python tasks keep it for plugins to read.
        self.task_config = task_config
        self.interface = interface_from_function(fn, where)
        unknown = [n for n in self.metadata.cache_ignore_input_vars if n not in self.interface.inputs]
        if unknown:
            raise WorkflowDefinitionError(f"{where}: the cache's ignored inputs name no input of the task: "
                                          f"{', '.join(unknown)}",
                                          hint=f"inputs: {', '.join(self.interface.inputs) or 'none'}")
        for label, types in (("input", self.interface.inputs), ("output", self.interface.outputs)):
            for var, python_type in types.items():
                try:
                    engine.literal_type(python_type)
                except engine.TypeMismatch as exc:
                    raise WorkflowDefinitionError(f"{where}: {label} '{var}': {exc}") from None
        self.requests = requests
        self.limits = limits
        self.container_image = _checked_image(container_image, where)
        self.environment = dict(environment or {})
        self.pod_template, self.pod_template_name = checked_pod_settings(pod_template, pod_template_name, where)
        self.secret_requests: list[Secret] = []
        if secret_requests is not None:  # sdk.secrets (dataclasses, enums) only for tasks that ask for secrets
            from flyrun.sdk.secrets import checked_secret_requests

            self.secret_requests = checked_secret_requests(secret_requests, where)
        self.enable_deck = bool(enable_deck)
        self.docs = None
        if docs is not None:  # flytekit's Documentation(...): serialized as the TaskSpec's description
            from flyrun.sdk.docs import checked_docs

            self.docs = checked_docs(docs, where)
        functools.update_wrapper(self, fn)

    # The module and attribute a worker or a task container imports to find this task again.
    @property
    def module(self) -> str:
        return self.fn.__module__

    @property
    def attribute(self) -> str:
        return self.fn.__qualname__

    @property
    def is_async(self) -> bool:
        """An ``async def`` task (or ``@eager``): called outside a workflow, it gives an awaitable."""
        import inspect

        return inspect.iscoroutinefunction(self.fn)

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return cached_execute(self, inputs, lambda given: run_with_retries(self, given))

    def run_function(self, inputs: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
        """Call the user's function and pass its outputs through their literal form."""
        with task_scope(self, inputs, attempt) as params:
            params.outputs = self.call_function(inputs)
            return params.outputs

    def call_function(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # Values from upstream tasks, as this task's own Python types (a data frame where a dataset is declared).
        inputs = {name: engine.fit(value, self.interface.inputs[name]) if name in self.interface.inputs else value
                  for name, value in inputs.items()}
        try:
            result = self.fn(**inputs)
            if self.is_async:  # an async def task or an @eager body: run it to its value here
                from flyrun.sdk.asyncs import run_coroutine

                result = run_coroutine(self, result)
        except FlyrunError:
            raise  # flyrun's own failure inside the task (storage, configuration): it keeps its meaning
        except Exception as exc:
            raise TaskExecutionError(self.name, exc) from exc
        try:
            outputs = self.interface.result_as_outputs(result, f"task {self.name}")
            return {name: engine.roundtrip(outputs[name], t, output=True)
                    for name, t in self.interface.outputs.items()}
        except (engine.TypeMismatch, TypeError) as exc:
            mismatch = TypeError(f"output does not match the declared type: {exc}")
            raise TaskExecutionError(self.name, mismatch) from None

    def __repr__(self) -> str:
        return f"<task {self.name}>"


def checked_pod_settings(pod_template: Any, pod_template_name: Any, where: str) -> tuple[Any, str | None]:
    """Check ``pod_template=`` and ``pod_template_name=`` of a task."""
    if pod_template_name is not None and (not isinstance(pod_template_name, str) or not pod_template_name):
        raise WorkflowDefinitionError(f"{where}: pod_template_name must be a non-empty string, not "
                                      f"{pod_template_name!r}")
    if pod_template is None:
        return None, pod_template_name
    if not isinstance(pod_template, PodTemplate):
        raise WorkflowDefinitionError(f"{where}: pod_template must be a flyrun PodTemplate, not "
                                      f"{type(pod_template).__name__}",
                                      hint="PodTemplate(pod_spec=V1PodSpec(...) or a dict, labels=..., ...)")
    return pod_template, pod_template_name


def cached_execute(entity: Any, inputs: dict[str, Any],
                   compute: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Run ``compute`` unless the run's cache holds this task's outputs for these inputs (``cache=True`` tasks)."""
    context = current_context()
    cache = context.cache if entity.metadata.cache else None
    if cache is None:
        return compute(inputs)
    key = cache.key_for(entity, inputs)
    if not context.overwrite_cache:
        cached = cache.get(key, entity)
        if cached is not None:
            context.notify(f"{entity.name}: cached outputs reused (cache_version {entity.metadata.cache_version})")
            return cached
    outputs = compute(inputs)
    cache.put(key, entity, outputs)
    return outputs


def run_with_retries(entity: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run a task locally; a FlyteRecoverableException is retried up to ``retries`` times, as a cluster would."""
    retries = entity.metadata.retries
    for attempt in range(retries + 1):
        try:
            return entity.run_function(inputs, attempt)
        except TaskExecutionError as exc:
            if attempt == retries or not isinstance(exc.error, FlyteRecoverableException):
                raise
            current_context().notify(f"{entity.name}: attempt {attempt + 1} of {retries + 1} failed ({exc.error}); "
                                     "retrying")
    raise AssertionError("unreachable")  # pragma: no cover


def task(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a task of a function: ``@task`` or ``@task(retries=2, cache=True, cache_version="1")``.

    A plugin's ``task_config`` may name the task class it needs (``__flyrun_task_class__ = "module:Class"``, as
    flytekit's ``TaskPlugins`` registry does), so the SDK never imports a plugin."""
    plugin = getattr(type(options.get("task_config")), "__flyrun_task_class__", None)
    task_class = PythonFunctionTask
    if plugin is not None:
        module, _, name = plugin.partition(":")
        task_class = getattr(importlib.import_module(module), name)
    if _fn is not None:
        return task_class(_fn, **options)
    return lambda fn: task_class(fn, **options)


def apply_python_task_options(entity: Any, options: dict[str, Any], where: str, retries: int = 0) -> None:
    """Give a task that is not a decorated function (ShellTask, DuckDBQuery) a python task's metadata and the
    options it keeps the meaning of (image, resources, pod template, secrets, decks); anything else is an error."""
    entity.metadata = task_metadata(where, retries=retries, timeout=options.pop("timeout", None),
                                    cache=options.pop("cache", False), cache_version=options.pop("cache_version", ""))
    defaults = PythonFunctionTask.__init__.__kwdefaults__ or {}
    for option in ("requests", "limits", "container_image", "environment", "pod_template", "pod_template_name",
                   "secret_requests", "enable_deck"):
        setattr(entity, option, options.pop(option, defaults.get(option)))
    if options:
        raise WorkflowDefinitionError(f"{where}: unknown options {', '.join(options)}")
    entity.environment = dict(entity.environment or {})
    entity.secret_requests = list(entity.secret_requests or [])


def __getattr__(name: str) -> Any:
    # ``flyrun.sdk.task.Resources`` stays importable; imported on first use, since most tasks never name it.
    if name == "Resources":
        from flyrun.sdk.resources import Resources

        return Resources
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

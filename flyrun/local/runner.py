"""Run a task or a workflow on this machine, in this process (map items may fan out to workers)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyrun.data.partials import sweep_abandoned
from flyrun.sdk.context import ExecutionContext, use_context

if TYPE_CHECKING:
    from flyrun.local.gates import Ask


@dataclass
class LocalRunSettings:
    raw_output_prefix: str | None = None
    storage_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Called the first time a task touches files: (configured raw output prefix or None, storage options).
    # The configured prefix applies unless raw_output_prefix was given; storage_options win over the loaded ones.
    load_storage: Callable[[], tuple[str | None, dict[str, dict[str, Any]]]] | None = None
    transfer_progress: Callable[..., Any] | None = None
    # The task cache's folder: a path, or a function giving one (called only if a cached task runs); None: default.
    cache_dir: Any = None
    overwrite_cache: bool = False
    # Answers for gates given on the command line: approvals, rejections and signal values by gate name.
    approve: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    signals: dict[str, str] = field(default_factory=dict)
    interactive: bool = False
    # "docker", "podman", "host", or None to use whichever of docker and podman works.
    container_runtime: str | None = None
    # Where tasks find secret files (flyrun run --secrets-dir); None: $FLYTE_SECRETS_DEFAULT_DIR or /etc/secrets.
    secrets_dir: str | None = None


def new_execution_id() -> str:
    return "local-" + os.urandom(5).hex()


def build_context(settings: LocalRunSettings, notify: Callable[[str], None],
                  ask: Ask | None = None,
                  debug: Callable[[str], None] | None = None) -> ExecutionContext:
    """The run's context. Its cache, gate resolver, container runner and map executor are built on first use, so a
    run that needs none of them imports none of them."""
    execution_id = new_execution_id()
    prefix = settings.raw_output_prefix or os.path.join(tempfile.gettempdir(), "flyrun-local", execution_id)
    context = ExecutionContext(
        raw_output_prefix=_trimmed(prefix),
        storage_options=settings.storage_options,
        load_storage=_storage_loader(settings),
        transfer_progress=settings.transfer_progress,
        overwrite_cache=settings.overwrite_cache,
        notify=notify,
        container_runtime=settings.container_runtime,
        execution_id=execution_id,
        secrets_dir=os.path.abspath(settings.secrets_dir) if settings.secrets_dir else "",
    )
    _attach_services(context, settings, ask, debug)
    return context


def _attach_services(context: ExecutionContext, settings: LocalRunSettings, ask: Ask | None,
                     debug: Callable[[str], None] | None) -> None:
    notify = context.notify

    def cache() -> Any:
        from flyrun.local.cache import LocalCache

        return LocalCache(settings.cache_dir)

    local_cache = OnFirstUse(cache)

    def gate_resolver() -> Any:
        from flyrun.local.gates import GateResolver

        return GateResolver(settings.approve, settings.reject, settings.signals,
                            ask if settings.interactive else None, notify)

    def container_runner() -> Any:
        from flyrun.local.container import ContainerRunner, local_work_dir

        return ContainerRunner(context.container_runtime, local_work_dir(context.raw_output_prefix), notify)

    def map_executor() -> Any:
        from flyrun.local.mapping import run_map

        def execute(map_task: Any, items: list[dict[str, Any]], allowed_failures: int) -> list[Any]:
            return run_map(map_task, items, allowed_failures, context, lambda: str(local_cache.directory), debug)

        return execute

    context.cache = local_cache
    context.gate_resolver = OnFirstUse(gate_resolver)
    context.container_runner = OnFirstUse(container_runner)
    context.map_executor = OnFirstUse(map_executor)


class OnFirstUse:
    """Stands in for an object (or a function) that is only built when first called or asked for an attribute."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._target: Any = None

    @property
    def target(self) -> Any:
        if self._target is None:
            self._target = self._build()
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def _entities(entity: Any) -> list[Any]:
    """The entity and everything its workflow graph (and sub-workflows) can run."""
    found = [entity]
    for node in getattr(entity, "nodes", ()):
        found.extend(_entities(node.entity))
    return found


def check_before_running(entity: Any, settings: LocalRunSettings, context: ExecutionContext) -> None:
    """Fail at once, before any task runs, on what would fail later: unanswerable gates, no container runtime."""
    reachable = _entities(entity)
    if any(e.kind in ("approve", "signal", "sleep") for e in reachable) or \
            settings.approve or settings.reject or settings.signals:
        from flyrun.local.gates import check_answers

        check_answers(entity, settings.approve, settings.reject, settings.signals, settings.interactive)
    containers = [e for e in reachable if getattr(e, "task_type", None) == "raw-container"]
    if containers and settings.container_runtime != "host":
        from flyrun.local.container import choose_runtime

        context.container_runtime = choose_runtime(settings.container_runtime, containers[0].name)


def _storage_loader(settings: LocalRunSettings) -> Callable[[ExecutionContext], None] | None:
    if settings.load_storage is None:
        return None
    load = settings.load_storage

    def apply(context: ExecutionContext) -> None:
        configured_prefix, options = load()
        if configured_prefix and not settings.raw_output_prefix:
            context.raw_output_prefix = _trimmed(configured_prefix)
        context.storage_options = {**options, **settings.storage_options}

    return apply


def _trimmed(prefix: str) -> str:
    # A local folder becomes absolute (outputs name where they are, whatever a task's working directory);
    # "s3://bucket/" -> "s3://bucket", but a bare scheme keeps its meaning.
    if prefix.startswith("file://"):
        prefix = prefix[len("file://"):] or "/"
    if "://" not in prefix:
        return os.path.abspath(os.path.expanduser(prefix))
    stripped = prefix.rstrip("/")
    return prefix if stripped.endswith(":") else stripped


def run_locally(entity: Any, inputs: dict[str, Any], settings: LocalRunSettings,
                notify: Callable[[str], None] = lambda message: None, ask: Ask | None = None,
                debug: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Check the inputs, run the entity and return its outputs by name.

    ``ask(question) -> answer`` reads an answer from the person at the terminal (gates); it is only used when
    ``settings.interactive`` is true. ``notify`` and ``debug`` get one-line notices.
    """
    sweep_abandoned()  # temporaries a killed run left beside its outputs
    context = build_context(settings, notify, ask, debug)
    with use_context(context):
        complete = entity.complete_inputs(inputs)
        check_before_running(entity, settings, context)
        return entity.local_execute(complete)

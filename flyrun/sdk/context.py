"""The execution context: what a running task may need from whoever runs it.

The SDK only defines the shape; the local runner, the task entrypoint and the sandbox fill it in. A context is
installed with ``use_context`` for the duration of a run, never read from module-level globals.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class TaskCache(Protocol):
    """Outputs of cached tasks, keyed by the task's cache version and its inputs."""

    def key_for(self, task: Any, inputs: dict[str, Any]) -> str: ...

    def get(self, key: str, task: Any) -> dict[str, Any] | None: ...

    def put(self, key: str, task: Any, outputs: dict[str, Any]) -> None: ...


class GateResolver(Protocol):
    """Answers a gate when a run reaches it: the gate's output value; raises to reject or fail."""

    def __call__(self, gate: Any, upstream_value: Any) -> Any: ...


class MapExecutor(Protocol):
    """Runs a map task's items: one entry per item, in order: the outputs dict, an ItemFailure, or None for an
    item not run because too many had failed already."""

    def __call__(self, map_task: Any, items: list[dict[str, Any]], allowed_failures: int) -> list[Any]: ...


class ContainerRunner(Protocol):
    """Runs a ContainerTask with its inputs and returns its outputs by name."""

    def __call__(self, task: Any, inputs: dict[str, Any]) -> dict[str, Any]: ...


class ChildLauncher(Protocol):
    """Runs an entity called inside an eager body as a child execution and returns its outputs by name (set by
    flyrun-execute for an @eager task on a platform; see flyrun.remote.eager)."""

    def __call__(self, entity: Any, inputs: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class ExecutionContext:
    # Where files and directories that tasks produce are written (a local folder, s3://..., gs://...).
    raw_output_prefix: str = ""
    # Storage settings handed to fsspec (endpoint, keys, anonymous access, ...), built from config by
    # flyrun.data.fs.storage_options_from_config: fsspec keyword arguments by protocol ("s3", "gs").
    storage_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Fills in raw_output_prefix and storage_options (from configuration) the first time a task touches files, so
    # that runs which never do never read configuration. Applied once by ensure_storage().
    load_storage: Callable[[ExecutionContext], None] | None = None
    # Shows the progress of a large transfer: transfer_progress(description, total_bytes) is a context manager
    # yielding advance(n_bytes). None shows nothing (no terminal, NO_COLOR, or not run from the CLI).
    transfer_progress: Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]] | None = None
    # None disables caching.
    cache: TaskCache | None = None
    overwrite_cache: bool = False
    gate_resolver: GateResolver | None = None
    map_executor: MapExecutor | None = None
    container_runner: ContainerRunner | None = None
    # One-line notices for the user (cache hits, sleep gates); the CLI sends them to stderr.
    notify: Callable[[str], None] = lambda message: None
    # Container tasks: "docker", "podman", "host" or None (detect).
    container_runtime: str | None = None
    execution_id: str = "local"
    project: str = ""
    # flyrun run --secrets-dir: where a local run's tasks find secret files (else $FLYTE_SECRETS_DEFAULT_DIR).
    secrets_dir: str = ""
    domain: str = ""
    # Set in a task container (flyrun-execute): where outputs.pb and deck.html go, propeller's checkpoint paths and
    # the attempt number. Empty in a local run.
    output_prefix: str = ""
    checkpoint_path: str = ""
    prev_checkpoint: str = ""
    attempt: int = 0
    # Set by flyrun-execute while an @eager body runs on a platform: its calls become child executions.
    child_launcher: ChildLauncher | None = None

    def ensure_storage(self) -> ExecutionContext:
        """Apply ``load_storage`` once; the data layer calls this before it reads the storage settings."""
        load, self.load_storage = self.load_storage, None
        if load is not None:
            load(self)
        return self


_CURRENT: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar("flyrun_context", default=None)
# The running task's parameters (``sdk.params.ExecutionParameters``), set by ``params.task_scope``. Kept here so that
# ``flyrun.deck``, which params imports to write decks, reaches them without importing params back.
TASK_PARAMS: contextvars.ContextVar[Any] = contextvars.ContextVar("flyrun_params", default=None)


def current_context() -> ExecutionContext:
    context = _CURRENT.get()
    if context is None:
        context = default_context()
        _CURRENT.set(context)
    return context


def active_context() -> ExecutionContext | None:
    """The context of the run going on in this thread, if any (``current_context`` makes a default one)."""
    return _CURRENT.get()


def default_context() -> ExecutionContext:
    """The context of a task or workflow called directly from Python: outputs go to a temporary folder."""
    import tempfile

    return ExecutionContext(raw_output_prefix=tempfile.mkdtemp(prefix="flyrun-raw-"))


@contextlib.contextmanager
def use_context(context: ExecutionContext) -> Iterator[ExecutionContext]:
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)

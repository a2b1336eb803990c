"""``flyrun.current_context()``: what a running task can ask about its execution, in flytekit's shape
(``flytekit.current_context()``): ``execution_id``, ``working_directory``, ``raw_output_prefix``, ``logging``,
``checkpoint``, ``secrets``, ``decks``.

This is the user-facing side. ``flyrun.sdk.context`` holds the runner's own context (storage, cache, gates); a
task's parameters are built from it when the task starts (``task_scope``) and live until it returns.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from flyrun.sdk import context as runner_context

if TYPE_CHECKING:
    import logging

    from flyrun.sdk.secrets import SecretsManager

USER_LOGGER = "flyrun.user_space"


class ExecutionIdentifier(NamedTuple):
    """flytekit's ``WorkflowExecutionIdentifier``: project, domain and name of the execution."""

    project: str
    domain: str
    name: str

    def __str__(self) -> str:
        return f"ex:{self.project}:{self.domain}:{self.name}"


class Checkpoint:
    """Intra-task checkpoints (flytekit's ``SyncCheckpoint``): what one attempt saves, the next attempt of the same
    task (a retry) can read back. ``write``/``read`` keep one blob; ``save``/``restore`` a file or a folder."""

    def __init__(self, checkpoint_dest: str, checkpoint_src: str | None = None) -> None:
        self._dest = checkpoint_dest
        self._src = checkpoint_src or None
        self._restored: Path | None = None

    def prev_exists(self) -> bool:
        return self._src is not None and _exists(self._src)

    def restore(self, path: str | Path | None = None) -> Path | None:
        """Copy the previous attempt's checkpoint to a local folder (``path``, or a new one); None if there is none."""
        if self._restored is not None and path is None:
            return self._restored
        if not self.prev_exists():
            return None
        assert self._src is not None
        from flyrun.data.transfer import download_directory

        target = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="flyrun-checkpoint-"))
        target.mkdir(parents=True, exist_ok=True)
        scratch = target / ".restore"
        download_directory(self._src, str(scratch), runner_context.current_context().ensure_storage())
        for item in scratch.iterdir():
            os.replace(item, target / item.name)
        scratch.rmdir()
        self._restored = target
        return target

    def save(self, cp: Path | str | Any) -> None:
        """Save a local file or folder, or the bytes of an open binary file, as this attempt's checkpoint."""
        from flyrun.data.transfer import upload_directory

        context = runner_context.current_context().ensure_storage()
        with tempfile.TemporaryDirectory(prefix="flyrun-checkpoint-") as scratch:
            source = Path(scratch) / "cp"
            source.mkdir()
            if isinstance(cp, (str, os.PathLike)) and Path(cp).is_dir():
                source = Path(cp)
            elif isinstance(cp, (str, os.PathLike)):
                (source / Path(cp).name).write_bytes(Path(cp).read_bytes())
            else:
                (source / "_flyte_cp").write_bytes(cp.read())
            _remove(self._dest)
            upload_directory(str(source), self._dest, context)

    def read(self) -> bytes | None:
        """The bytes ``write`` saved in the previous attempt, or None."""
        folder = self.restore()
        if folder is None:
            return None
        files = [p for p in folder.iterdir() if p.is_file()]
        if not files:
            return None
        if len(files) > 1:
            raise ValueError(f"the previous checkpoint holds {len(files)} files; read() expects one "
                             "(use restore() for a folder)")
        return files[0].read_bytes()

    def write(self, b: bytes) -> None:
        import io

        self.save(io.BytesIO(b))


def _exists(location: str) -> bool:
    from flyrun.data.fs import filesystem_for

    fs, path = filesystem_for(location, runner_context.current_context().ensure_storage().storage_options)
    return bool(fs.exists(path))


def _remove(location: str) -> None:
    from flyrun.data.fs import filesystem_for, is_local

    if is_local(location):
        import shutil

        shutil.rmtree(location, ignore_errors=True)
        return
    fs, path = filesystem_for(location, runner_context.current_context().storage_options)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(path, recursive=True)


class ExecutionParameters:
    """The running task's view of its execution (what ``current_context()`` returns)."""

    def __init__(self, execution_id: ExecutionIdentifier, working_directory: str | Callable[[], str],
                 raw_output_prefix: str,
                 checkpoint: Checkpoint | None | Callable[[], Checkpoint | None],
                 secrets: SecretsManager | Callable[[], SecretsManager],
                 task_name: str = "",
                 enable_deck: bool = False, output_metadata_prefix: str = "") -> None:
        self.execution_id = execution_id
        self._working_directory = working_directory
        self.raw_output_prefix = raw_output_prefix
        self.output_metadata_prefix = output_metadata_prefix
        self._secrets = secrets
        self.task_name = task_name
        self.enable_deck = enable_deck
        self.decks: list[Any] = []
        self.outputs: dict[str, Any] | None = None  # the task's outputs once it has returned (for its deck)
        self._checkpoint = checkpoint
        self._default_deck: Any = None

    @property
    def working_directory(self) -> str:
        # Made on first use: most tasks never ask, and a map over many items should not make a folder per item.
        if callable(self._working_directory):
            self._working_directory = self._working_directory()
        return self._working_directory

    @property
    def secrets(self) -> SecretsManager:
        # Made on first use, like the working directory: few tasks ask for secrets.
        if callable(self._secrets):
            self._secrets = self._secrets()
        return self._secrets

    @property
    def checkpoint(self) -> Checkpoint:
        if callable(self._checkpoint):
            self._checkpoint = self._checkpoint()
        if self._checkpoint is None:
            raise NotImplementedError("checkpointing is only available while a task runs")
        return self._checkpoint

    @property
    def default_deck(self) -> Any:
        if self._default_deck is None:
            from flyrun.deck import Deck

            self._default_deck = Deck("default")
        return self._default_deck

    @property
    def logging(self) -> logging.Logger:
        import logging  # here: most tasks never log through their context

        return logging.getLogger(USER_LOGGER)

    @functools.cached_property
    def execution_date(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def get(self, key: str) -> Any:
        return getattr(self, key)

    def new_working_file(self, name: str) -> str:
        """A path for a new file in the task's working directory."""
        return os.path.join(self.working_directory, name)


_PARAMS: contextvars.ContextVar[ExecutionParameters | None] = runner_context.TASK_PARAMS


def current_context() -> ExecutionParameters:
    """The running task's parameters; outside a task, those of a local execution with no checkpoint."""
    params = _PARAMS.get()
    if params is None:
        runner = runner_context.current_context()
        params = ExecutionParameters(_execution_identifier(runner), os.getcwd(), runner.raw_output_prefix, None,
                                     _secrets(runner))
    return params


def _secrets(runner: runner_context.ExecutionContext, owner: str = "") -> Callable[[], SecretsManager]:
    """The task's secrets, built when it first asks (see ``ExecutionParameters.secrets``)."""
    local, folder = not runner.output_prefix, runner.secrets_dir or None

    def build() -> SecretsManager:
        from flyrun.sdk.secrets import SecretsManager

        return SecretsManager(local=local, folder=folder, owner=owner)

    return build


def _execution_identifier(runner: runner_context.ExecutionContext) -> ExecutionIdentifier:
    return ExecutionIdentifier(runner.project or "local", runner.domain or "local", runner.execution_id)


def local_run_area(runner: runner_context.ExecutionContext) -> str:
    """A local run's own folder (decks, checkpoints, task work folders, plugins' stores)."""
    return os.path.join(tempfile.gettempdir(), "flyrun-local", runner.execution_id)


@contextlib.contextmanager
def task_scope(task: Any, inputs: dict[str, Any], attempt: int | None = None) -> Iterator[ExecutionParameters]:
    """Install the task's parameters while its function runs; afterwards write its decks (also on failure).

    In a task container (``flyrun-execute``) the checkpoint paths come from propeller's arguments; in a local run
    they are folders per task and attempt, so a retry reads what the failed attempt saved.
    """
    runner = runner_context.current_context()
    number = runner.attempt if attempt is None else attempt
    # Folders and checkpoint paths are worked out on first use: a map over many items should pay nothing for them.
    work: Callable[[], str]
    checkpoint: Callable[[], Checkpoint | None]
    if runner.output_prefix:  # in a task container
        work = functools.partial(tempfile.mkdtemp, prefix="flyrun-task-")
        checkpoint = functools.partial(_container_checkpoint, runner)
    else:
        work = functools.partial(_local_work_dir, runner, task.name, number)
        checkpoint = functools.partial(_local_checkpoint, runner, task.name, number)
    params = ExecutionParameters(_execution_identifier(runner), work, runner.raw_output_prefix, checkpoint,
                                 _secrets(runner, task.name), task.name,
                                 bool(getattr(task, "enable_deck", False)), runner.output_prefix)
    token = _PARAMS.set(params)
    outputs: dict[str, Any] = {}
    try:
        yield params
        outputs = getattr(params, "outputs", {})
    finally:
        _PARAMS.reset(token)
        if params.enable_deck:
            try:
                _write_deck(task, params, inputs, outputs, runner)
            except Exception as exc:  # a deck is a report: it must not hide the task's own result or error
                runner.notify(f"{task.name}: the deck could not be written: {type(exc).__name__}: {exc}")


def _container_checkpoint(runner: runner_context.ExecutionContext) -> Checkpoint | None:
    return Checkpoint(runner.checkpoint_path, runner.prev_checkpoint) if runner.checkpoint_path else None


def _local_checkpoint(runner: runner_context.ExecutionContext, name: str, number: int) -> Checkpoint:
    folder = os.path.join(local_run_area(runner), "tasks", _file_name(name), "checkpoints")
    return Checkpoint(os.path.join(folder, str(number)), os.path.join(folder, str(number - 1)) if number else None)


def _local_work_dir(runner: runner_context.ExecutionContext, name: str, number: int) -> str:
    folder = _made(os.path.join(local_run_area(runner), "tasks", _file_name(name), "work"))
    return tempfile.mkdtemp(prefix=f"{number}-", dir=folder)


def _made(folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    return folder


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _write_deck(task: Any, params: ExecutionParameters, inputs: dict[str, Any], outputs: dict[str, Any],
                runner: runner_context.ExecutionContext) -> None:
    from flyrun.sdk.decks import task_document

    document = task_document(task, params.decks, inputs, outputs).encode()
    if runner.output_prefix:  # propeller's place: <output prefix>/deck.html, next to outputs.pb
        from flyrun.data.fs import join
        from flyrun.data.transfer import open_for_write

        with open_for_write(join(runner.output_prefix, "deck.html"), runner.ensure_storage()) as writer:
            writer.write(document)
        return
    folder = _made(os.path.join(local_run_area(runner), "decks"))
    path = os.path.join(folder, f"{_file_name(task.name)}.html")
    counter = 1
    while os.path.exists(path):  # a task run twice in one workflow keeps both decks
        counter += 1
        path = os.path.join(folder, f"{_file_name(task.name)}-{counter}.html")
    Path(path).write_bytes(document)
    runner.notify(f"{task.name}: deck written to {path}")

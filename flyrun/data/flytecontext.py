"""flytekit's ``FlyteContext`` as far as everyday code touches it: the ``ctx`` a custom ``TypeTransformer``'s
``to_literal``/``to_python_value`` gets, and ``FlyteContextManager.current_context()``.

A ``FlyteContext`` is a view of the run's ``ExecutionContext`` (``sdk/context.py``): ``file_access`` moves files
with the run's storage settings (local disk, S3 or GCS, streaming and atomic, as ``FlyteFile`` does), and
``execution_state``/``user_space_params`` give the running task's parameters (``current_context()``). flytekit's
compilation state, serialization settings and context builders are not here.
"""

from __future__ import annotations

import enum
import os
import tempfile
import uuid
from typing import Any

from flyrun.data import fs, transfer
from flyrun.sdk import context as runner_context
from flyrun.sdk import params


class FileAccessProvider:
    """``ctx.file_access``: random local and remote paths, and copies between them (flytekit's names)."""

    def __init__(self, runner: runner_context.ExecutionContext) -> None:
        self._runner = runner

    @property
    def raw_output_prefix(self) -> str:
        return self._runner.ensure_storage().raw_output_prefix

    @property
    def local_sandbox_dir(self) -> str:
        """This process's scratch folder for local copies (made on first use)."""
        global _SANDBOX_DIR
        if _SANDBOX_DIR is None:
            _SANDBOX_DIR = tempfile.mkdtemp(prefix="flyrun-local-sandbox-")
        return _SANDBOX_DIR

    @staticmethod
    def is_remote(path: str | os.PathLike[str]) -> bool:
        return not fs.is_local(os.fspath(path))

    @staticmethod
    def get_random_string() -> str:
        return uuid.uuid4().hex

    def get_random_local_path(self, file_path_or_file_name: str | None = None) -> str:
        """A new path in a random folder of the scratch folder, ending in the given file's name if one is given."""
        tail = os.path.basename(file_path_or_file_name) if file_path_or_file_name else ""
        folder = os.path.join(self.local_sandbox_dir, self.get_random_string())
        return os.path.join(folder, tail) if tail else folder

    def get_random_local_directory(self) -> str:
        folder = self.get_random_local_path()
        os.makedirs(folder, exist_ok=True)
        return folder

    def get_random_remote_path(self, file_path_or_file_name: str | None = None) -> str:
        """A new location under the run's raw output prefix (where a task's data goes)."""
        parts = [self.get_random_string()]
        if file_path_or_file_name:
            parts.append(fs.basename(os.fspath(file_path_or_file_name)))
        return fs.join(self.raw_output_prefix, *parts)

    def get_random_remote_directory(self) -> str:
        return self.get_random_remote_path()

    def exists(self, path: str) -> bool:
        filesystem, located = fs.filesystem_for(path, self._runner.ensure_storage().storage_options)
        return bool(filesystem.exists(located))

    def put_data(self, local_path: str | os.PathLike[str], remote_path: str, is_multipart: bool = False,
                 **kwargs: Any) -> str:
        """Copy a local file (or, with ``is_multipart``, a folder) to ``remote_path``; returns ``remote_path``."""
        runner, local = self._runner.ensure_storage(), os.fspath(local_path)
        if is_multipart or os.path.isdir(local):
            transfer.upload_directory(local, remote_path, runner)
        else:
            transfer.upload_file(local, remote_path, runner)
        return remote_path

    def get_data(self, remote_path: str, local_path: str | os.PathLike[str], is_multipart: bool = False,
                 **kwargs: Any) -> None:
        """Copy ``remote_path`` (a file, or with ``is_multipart`` a folder) to a local path."""
        runner, local = self._runner.ensure_storage(), os.fspath(local_path)
        if is_multipart:
            transfer.download_directory(remote_path, local, runner)
            return
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        transfer.download_file(remote_path, local, runner)

    def upload(self, file_path: str, to_path: str, **kwargs: Any) -> str:
        return self.put_data(file_path, to_path, **kwargs)

    def upload_directory(self, local_path: str, remote_path: str, **kwargs: Any) -> str:
        return self.put_data(local_path, remote_path, is_multipart=True)

    def download(self, remote_path: str, local_path: str, **kwargs: Any) -> None:
        self.get_data(remote_path, local_path, **kwargs)

    def download_directory(self, remote_path: str, local_path: str, **kwargs: Any) -> None:
        self.get_data(remote_path, local_path, is_multipart=True)


_SANDBOX_DIR: str | None = None


class ExecutionState:
    """``ctx.execution_state``: how the code runs (``mode``), where it works, and the task's parameters."""

    class Mode(enum.Enum):
        TASK_EXECUTION = 1  # in a task container (flyrun-execute)
        LOCAL_WORKFLOW_EXECUTION = 2
        LOCAL_TASK_EXECUTION = 3

    def __init__(self, runner: runner_context.ExecutionContext) -> None:
        self._runner = runner
        running = runner_context.TASK_PARAMS.get()
        if runner.output_prefix:
            self.mode: ExecutionState.Mode | None = ExecutionState.Mode.TASK_EXECUTION
        elif running is not None:
            self.mode = ExecutionState.Mode.LOCAL_TASK_EXECUTION
        else:
            self.mode = ExecutionState.Mode.LOCAL_WORKFLOW_EXECUTION if runner_context.active_context() else None

    @property
    def user_space_params(self) -> params.ExecutionParameters:
        return params.current_context()

    @property
    def working_dir(self) -> str:
        return self.user_space_params.working_directory

    def is_local_execution(self) -> bool:
        return self.mode in (ExecutionState.Mode.LOCAL_TASK_EXECUTION, ExecutionState.Mode.LOCAL_WORKFLOW_EXECUTION)


class FlyteContext:
    """The run's context in flytekit's shape (``FlyteContextManager.current_context()``)."""

    def __init__(self, runner: runner_context.ExecutionContext) -> None:
        self._runner = runner
        self.file_access = FileAccessProvider(runner)
        self.execution_state = ExecutionState(runner)
        # flytekit's compile- and registration-time state: never set while code runs here.
        self.compilation_state = None
        self.serialization_settings = None

    @property
    def user_space_params(self) -> params.ExecutionParameters:
        return self.execution_state.user_space_params

    @property
    def raw_output_prefix(self) -> str:
        """Where the run writes data (flyrun's older ``ctx.raw_output_prefix``; flytekit's is on file_access)."""
        return self.file_access.raw_output_prefix

    @property
    def storage_options(self) -> dict[str, dict[str, Any]]:
        """fsspec keyword arguments by protocol, for code that opens storage itself."""
        return self._runner.ensure_storage().storage_options

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContextManager.current_context()

    def __repr__(self) -> str:
        return f"FlyteContext(execution_id={self._runner.execution_id!r}, mode={self.execution_state.mode})"


class FlyteContextManager:
    """flytekit's entry point to the context: ``FlyteContextManager.current_context()``."""

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContext(runner_context.current_context())

"""Container tasks (``raw-container``, or any container with a ``data_config``) on the sandbox.

They run where ``flyrun sandbox start --container-runtime`` says: ``docker`` or ``podman`` with the data folders
mounted, or ``host`` (this machine, as the local runner's ``--container-runtime host`` does); by default the first
of docker and podman that works, else the host. Inputs are laid out and outputs read by Flyte's copilot protocol,
written once in ``flyrun.protocol.copilot``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from flyrun.data.fs import filesystem_for, join, storage_options_from_environment
from flyrun.errors import FlyrunError
from flyrun.protocol import copilot
from flyrun.protocol.runtimes import engine_argv, first_engine, host_argv
from flyrun.sandbox.engine.literals import write_message
from flyrun.sandbox.engine.records import USER
from flyrun.sandbox.engine.runtime import NodeFailed


def is_container_task(task: Any) -> bool:
    if task.type == "raw-container":
        return True
    return task.HasField("container") and task.container.data_config.enabled


def primary_container(task: Any) -> dict[str, Any]:
    """The container named ``primary_container_name`` (default ``primary``) in a pod task's spec."""
    from google.protobuf import json_format

    name = task.config.get("primary_container_name", "primary")
    spec = json_format.MessageToDict(task.k8s_pod.pod_spec)
    for container in spec.get("containers", []):
        if container.get("name") == name:
            return container
    raise NodeFailed.of("BadTaskSpec", f"task {task.id.name}: its pod spec has no container named {name!r}", USER)


class ContainerRuntime:
    """The sandbox's ``--container-runtime``: the one given, or (on the first container task, so that starting the
    sandbox never waits for ``docker info``) the first of docker and podman that works, else ``host``."""

    def __init__(self, requested: str | None = None) -> None:
        self.requested = requested
        self._chosen: str | None = requested
        self._lock = threading.Lock()

    def name(self) -> str:
        with self._lock:
            if self._chosen is None:
                self._chosen = first_engine()[0] or "host"
            return self._chosen


def _data_config(task: Any) -> Any:
    if task.HasField("container"):
        return task.container.data_config
    return task.k8s_pod.data_config


def _image(task: Any) -> str:
    return task.container.image if task.HasField("container") else primary_container(task).get("image", "")


def _format(config: Any) -> str:
    from flyteidl.core import tasks_pb2

    return tasks_pb2.DataLoadingConfig.LiteralMapFormat.Name(config.format)


def container_argv(task: Any, words: list[str], attempt: Any, inputs: Any, env: dict[str, str],
                   runtime: ContainerRuntime | None = None) -> list[str]:
    """The command for this attempt, its inputs laid out in the attempt's work folder.

    On ``host`` the command runs as it is with the container's data folders replaced by the folders on disk (``env``
    is the whole process environment); in an engine they are mounted where the task expects them.
    """
    config = _data_config(task)
    host_inputs, host_outputs = attempt.work_dir / "inputs", attempt.work_dir / "outputs"
    try:
        copilot.write_inputs(host_inputs, inputs, _format(config), storage_options_from_environment(os.environ))
    except (OSError, FlyrunError) as error:
        raise NodeFailed.of("InputsUnavailable", f"container task {task.id.name}: cannot lay out its inputs in "
                                                 f"{host_inputs}: {error}", USER) from None
    host_outputs.mkdir(parents=True, exist_ok=True)
    data_dirs = {config.input_path or "/var/inputs": str(host_inputs),
                 config.output_path or "/var/outputs": str(host_outputs)}
    chosen = (runtime or ContainerRuntime()).name()
    if chosen == "host":
        return host_argv(words, data_dirs)
    own_env = {pair.key: pair.value for pair in (task.container.env if task.HasField("container") else [])}
    for name in ("FLYTE_INTERNAL_EXECUTION_ID", "FLYTE_INTERNAL_EXECUTION_PROJECT",
                 "FLYTE_INTERNAL_EXECUTION_DOMAIN", "FLYTE_ATTEMPT_NUMBER"):
        own_env[name] = env[name]
    return engine_argv(chosen, _image(task), words, data_dirs, own_env)


def collect_outputs(task: Any, attempt: Any, code: int) -> None:
    """Turn the files a container left in its output folder into ``outputs.pb`` in the output prefix.

    After a failed exit only an ``_ERROR`` file is looked at; the exit code tells the rest.
    """
    folder = attempt.work_dir / "outputs"
    if code != 0 and not (folder / copilot.ERROR_FILE).is_file():
        return
    types = {name: variable.type for name, variable in task.interface.outputs.variables.items()}
    try:
        outputs = copilot.read_outputs(folder, types, _data_config(task).output_path or "/var/outputs",
                                       store=lambda path, name: _store_blob(path, attempt.raw_prefix, name))
    except copilot.ContainerOutputError as error:
        raise NodeFailed.of("ContainerOutputError", f"container task {task.id.name}: {error}", USER) from None
    write_message(attempt.output_prefix / "outputs.pb", outputs)


def _store_blob(path: Path, raw_prefix: str, name: str) -> str:
    target = join(raw_prefix, name)
    fs, remote = filesystem_for(target, storage_options_from_environment(os.environ))
    fs.makedirs(fs._parent(remote), exist_ok=True)
    fs.put(str(path), remote, recursive=path.is_dir())
    return target

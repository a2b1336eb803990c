"""Container tasks (``raw-container``, or any container with a ``data_config``) through docker or podman.

Like Flyte's copilot, inputs are laid out in the container's ``input_path`` (one file per input holding its value
or its file, plus the whole LiteralMap as ``inputs.pb``/``inputs.json``/``inputs.yaml``) and outputs are read
from ``output_path`` (one file per output) after the container exits.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from flyrun.sandbox.engine.records import SYSTEM, USER
from flyrun.sandbox.engine.runtime import NodeFailed

ENGINES = ("docker", "podman")
_FORMATS = {0: "json", 1: "yaml", 2: "pb"}  # flyteidl.core.DataLoadingConfig.LiteralMapFormat


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


@functools.lru_cache(maxsize=1)
def available_engine() -> str | None:
    """The first of docker/podman whose ``info`` succeeds (a client without a daemon does not count)."""
    for name in ENGINES:
        if shutil.which(name) is None:
            continue
        try:
            done = subprocess.run([name, "info"], capture_output=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return name
    return None


def _data_config(task: Any) -> Any:
    if task.HasField("container"):
        return task.container.data_config
    return task.k8s_pod.data_config


def _image(task: Any) -> str:
    return task.container.image if task.HasField("container") else primary_container(task).get("image", "")


def container_argv(task: Any, words: list[str], attempt: Any, inputs: Any, env: dict[str, str],
                   engine: str | None = None) -> list[str]:
    """``docker run`` for this attempt, with the input and output folders mounted where the task expects them."""
    engine = engine or available_engine()
    if engine is None:
        raise NodeFailed.of("ContainerEngineUnavailable",
                            f"task {task.id.name} is a container task ({task.type}); running it needs docker or "
                            "podman, and neither answers here (`docker info` failed)", SYSTEM)
    config = _data_config(task)
    host_inputs, host_outputs = attempt.work_dir / "inputs", attempt.work_dir / "outputs"
    write_inputs(host_inputs, inputs, _FORMATS.get(config.format, "pb"))
    host_outputs.mkdir(parents=True, exist_ok=True)
    argv = [engine, "run", "--rm", "-v", f"{host_inputs}:{config.input_path or '/var/inputs'}:ro",
            "-v", f"{host_outputs}:{config.output_path or '/var/outputs'}"]
    own_env = task.container.env if task.HasField("container") else []
    for pair in own_env:
        argv += ["-e", f"{pair.key}={pair.value}"]
    for name in ("FLYTE_INTERNAL_EXECUTION_ID", "FLYTE_INTERNAL_EXECUTION_PROJECT",
                 "FLYTE_INTERNAL_EXECUTION_DOMAIN", "FLYTE_ATTEMPT_NUMBER"):
        argv += ["-e", f"{name}={env[name]}"]
    return [*argv, _image(task), *words]


def write_inputs(folder: Path, inputs: Any, fmt: str) -> None:
    from google.protobuf import json_format

    from flyrun.sandbox.engine.literals import literal_text

    folder.mkdir(parents=True, exist_ok=True)
    for name, literal in inputs.literals.items():
        scalar = literal.scalar
        if scalar.HasField("blob"):
            _fetch(scalar.blob.uri, folder / name)
        elif scalar.HasField("primitive"):
            (folder / name).write_text(literal_text(literal))
    if fmt == "pb":
        (folder / "inputs.pb").write_bytes(inputs.SerializeToString())
    else:
        document = json_format.MessageToDict(inputs, preserving_proto_field_name=True)
        if fmt == "yaml":
            import yaml

            (folder / "inputs.yaml").write_text(yaml.safe_dump(document))
        else:
            (folder / "inputs.json").write_text(json.dumps(document))


def _fetch(uri: str, target: Path) -> None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    if fs.isdir(path):
        fs.get(path, str(target), recursive=True)
    else:
        fs.get(path, str(target))


def collect_outputs(task: Any, attempt: Any) -> None:
    """Turn the files a container left in its output folder into ``outputs.pb`` in the output prefix."""
    from flyteidl.core import literals_pb2, types_pb2

    from flyrun.sandbox.engine.literals import write_message

    folder = attempt.work_dir / "outputs"
    outputs = literals_pb2.LiteralMap()
    for name, variable in task.interface.outputs.variables.items():
        path = folder / name
        if not path.exists():
            raise NodeFailed.of("OutputsNotFound", f"container task {task.id.name} wrote no output {name!r} in "
                                                   "its output folder", USER)
        literal = outputs.literals[name]
        if variable.type.HasField("blob"):
            literal.scalar.blob.uri = _store_blob(path, attempt.raw_prefix, name)
            literal.scalar.blob.metadata.type.CopyFrom(variable.type.blob)
            continue
        text = path.read_text().strip()
        primitive = literal.scalar.primitive
        simple = types_pb2.SimpleType.Name(variable.type.simple)
        try:
            if simple == "INTEGER":
                primitive.integer = int(text)
            elif simple == "FLOAT":
                primitive.float_value = float(text)
            elif simple == "BOOLEAN":
                primitive.boolean = text.lower() in ("true", "1", "yes")
            else:
                primitive.string_value = text
        except ValueError:
            raise NodeFailed.of("OutputsNotFound", f"output {name!r} of {task.id.name} is not a valid "
                                                   f"{simple.lower()}: {text[:80]!r}", USER) from None
    write_message(attempt.output_prefix / "outputs.pb", outputs)


def _store_blob(path: Path, raw_prefix: str, name: str) -> str:
    import fsspec

    target = f"{raw_prefix.rstrip('/')}/{name}"
    fs, remote = fsspec.core.url_to_fs(target)
    fs.makedirs(fs._parent(remote), exist_ok=True)
    fs.put(str(path), remote, recursive=path.is_dir())
    return target

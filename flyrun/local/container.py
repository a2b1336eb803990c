"""Run a ContainerTask locally: in docker or podman with the data dirs mounted, or on this machine (``host``).

With ``host``, the command runs as a subprocess and every mention of ``input_data_dir``/``output_data_dir`` in its
words is replaced by a temporary folder; the data layout is Flyte's (see ``flyrun.protocol.copilot``). The container's
output lines are passed on as notices, prefixed with the task's name.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyrun.errors import TaskExecutionError, UsageError
from flyrun.protocol import copilot
from flyrun.protocol.runtimes import RUNTIMES, engine_argv, first_engine, host_argv, runtime_problem
from flyrun.protocol.templates import TemplateError, render
from flyrun.types import engine


class ContainerFailed(Exception):
    """The container's command exited with a non-zero status."""


def choose_runtime(requested: str | None, task_name: str) -> str:
    """The runtime to use: the one asked for if it works, else docker or podman, whichever works first."""
    if requested == "host":
        return "host"
    if requested is not None:
        if requested not in RUNTIMES:
            raise UsageError(f"--container-runtime {requested}: choose one of {', '.join(RUNTIMES)}")
        problem = runtime_problem(requested)
        if problem:
            raise UsageError(f"container task {task_name}: --container-runtime {requested}: {problem}",
                             hint="start its engine, or run the command on this machine with "
                                  "--container-runtime host")
        return requested
    found, problems = first_engine()
    if found is not None:
        return found
    raise UsageError(f"container task {task_name} needs a container runtime, and none works here: "
                     f"{'; '.join(problems)}",
                     hint="start Docker or Podman, or run the command on this machine with --container-runtime host")


class ContainerRunner:
    """The context's ``container_runner``: one per local run, the runtime chosen once on first use."""

    def __init__(self, runtime: str | None, work_dir: Callable[[], Path], notify: Callable[[str], None]) -> None:
        """``runtime``: one already checked (or "host"), or None to choose one on first use."""
        self.runtime = runtime
        self.work_dir = work_dir
        self.notify = notify

    def __call__(self, task: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        if self.runtime is None:
            self.runtime = choose_runtime(None, task.name)
        folder = self.work_dir() / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', task.name)}-{secrets.token_hex(4)}"
        in_dir, out_dir = folder / "inputs", folder / "outputs"

        literals = input_literals(task, inputs)
        copilot.write_inputs(in_dir, literals, task.metadata_format)
        out_dir.mkdir(parents=True, exist_ok=True)
        words = render_command(task, literals)
        data_dirs = {task.input_data_dir or "": str(in_dir), task.output_data_dir or "": str(out_dir)}
        if self.runtime == "host":
            argv, env = host_argv(words, data_dirs), {**os.environ, **task.environment}
        else:
            argv, env = engine_argv(self.runtime, task.image, words, data_dirs, task.environment), None
        self._run(task, argv, env)
        return read_outputs(task, out_dir)

    def _run(self, task: Any, argv: list[str], env: dict[str, str] | None) -> None:
        timeout = task.metadata.timeout.total_seconds() if task.metadata.timeout else None
        try:
            done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=timeout)
        except FileNotFoundError:
            raise TaskExecutionError(task.name, ContainerFailed(f"command not found: {argv[0]}")) from None
        except subprocess.TimeoutExpired:
            raise TaskExecutionError(task.name, ContainerFailed(f"timed out after {timeout:g} s")) from None
        for line in (done.stdout + done.stderr).splitlines():
            self.notify(f"[{task.name}] {line}")
        if done.returncode != 0:
            last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
            detail = f": {last.strip()}" if last else ""
            raise TaskExecutionError(task.name, ContainerFailed(f"the command exited with status "
                                                                f"{done.returncode}{detail}"))


def input_literals(task: Any, inputs: dict[str, Any]) -> Any:
    """The inputs as a ``LiteralMap`` message: where the type engine's dict literals meet the protocol layer."""
    from flyteidl.core import literals_pb2

    from flyrun.idl.literals import parse

    literals = {name: engine.to_literal(inputs[name], t) for name, t in task.interface.inputs.items()}
    return parse({"literals": literals}, literals_pb2.LiteralMap)


def read_outputs(task: Any, folder: Path) -> dict[str, Any]:
    """The task's outputs as Python values; TaskExecutionError names what is missing or wrong."""
    from flyteidl.core import types_pb2

    from flyrun.idl.literals import parse, to_dict

    types = {name: parse(engine.literal_type(t), types_pb2.LiteralType) for name, t in task.interface.outputs.items()}
    try:
        literals = copilot.read_outputs(folder, types, task.output_data_dir or "")
    except copilot.ContainerOutputError as error:
        raise TaskExecutionError(task.name, error) from None
    values = {}
    for name, python_type in task.interface.outputs.items():
        try:
            values[name] = engine.to_python(to_dict(literals.literals[name]), python_type)
        except engine.TypeMismatch as error:
            raise TaskExecutionError(task.name, copilot.ContainerOutputError(f"output '{name}': {error}")) from None
    return values


def render_command(task: Any, literals: Any) -> list[str]:
    """The command and arguments with ``{{.inputs.x}}`` replaced as propeller does."""
    try:
        return render(task.command + task.arguments, literals)
    except TemplateError as error:
        raise UsageError(f"container task {task.name}: {error}") from None


def local_work_dir(raw_output_prefix: str) -> Callable[[], Path]:
    """Where a run keeps container data dirs: under a local raw output prefix, else in a temporary folder."""
    def choose() -> Path:
        if raw_output_prefix and "://" not in raw_output_prefix:
            return Path(raw_output_prefix) / "containers"
        return Path(tempfile.mkdtemp(prefix="flyrun-containers-"))

    return choose

"""Run a ContainerTask locally: in docker or podman with the data dirs mounted, or on this machine (``host``).

With ``host``, the command runs as a subprocess and every mention of ``input_data_dir``/``output_data_dir`` in its
words is replaced by a temporary folder; the data layout is Flyte's (see ``flyrun.local.copilot``). The container's
output lines are passed on as notices, prefixed with the task's name.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyrun.errors import TaskExecutionError, UsageError
from flyrun.local import copilot
from flyrun.types import engine

RUNTIMES = ("docker", "podman", "host")
_ENGINE_CHECK_SECONDS = 15


class ContainerFailed(Exception):
    """The container's command exited with a non-zero status."""


def runtime_problem(name: str) -> str | None:
    """Why ``name`` cannot run containers here (not installed, or its engine does not answer), or None."""
    executable = shutil.which(name)
    if executable is None:
        return f"{name} is not installed (not on PATH)"
    try:
        probe = subprocess.run([executable, "info"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               timeout=_ENGINE_CHECK_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{name} info` failed: {exc}"
    if probe.returncode != 0:
        first = next((line.strip() for line in probe.stderr.splitlines() if line.strip()), "no engine answered")
        return f"`{name} info` failed: {first}"
    return None


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
    problems = []
    for name in ("docker", "podman"):
        problem = runtime_problem(name)
        if problem is None:
            return name
        problems.append(problem)
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
        literals = {name: engine.to_literal(inputs[name], t) for name, t in task.interface.inputs.items()}
        copilot.write_inputs(in_dir, literals, task.metadata_format)
        out_dir.mkdir(parents=True, exist_ok=True)
        words = render_command(task, literals)
        if self.runtime == "host":
            argv, env = host_command(task, words, in_dir, out_dir), {**os.environ, **task.environment}
        else:
            argv, env = engine_command(self.runtime, task, words, in_dir, out_dir), None
        self._run(task, argv, env)
        return copilot.read_outputs(task, out_dir)

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


def render_command(task: Any, literals: dict[str, dict]) -> list[str]:
    """The command and arguments with ``{{.inputs.x}}`` replaced as propeller does."""
    from flyrun.sdk.container import INPUT_TEMPLATE

    def fill(match: re.Match) -> str:
        try:
            return copilot.template_text(literals[match.group(1)])
        except ValueError as exc:
            raise UsageError(f"container task {task.name}: {match.group(0)}: {exc}") from None

    return [INPUT_TEMPLATE.sub(fill, word) for word in task.command + task.arguments]


def host_command(task: Any, words: list[str], in_dir: Path, out_dir: Path) -> list[str]:
    """Map the container's data dirs onto the temporary folders in every word of the command."""
    mapped = words
    for container_dir, host_dir in ((task.input_data_dir, in_dir), (task.output_data_dir, out_dir)):
        if container_dir:
            pattern = re.compile(re.escape(container_dir) + r"(?=/|$|[^\w.-])")
            replacement = str(host_dir).replace("\\", "\\\\")  # a literal path, not a template
            mapped = [pattern.sub(replacement, word) for word in mapped]
    return mapped


def engine_command(runtime: str, task: Any, words: list[str], in_dir: Path, out_dir: Path) -> list[str]:
    argv = [runtime, "run", "--rm"]
    if task.input_data_dir:
        argv += ["-v", f"{in_dir}:{task.input_data_dir}"]
    if task.output_data_dir:
        argv += ["-v", f"{out_dir}:{task.output_data_dir}"]
    for key, value in task.environment.items():
        argv += ["-e", f"{key}={value}"]
    return argv + [task.image, *words]


def local_work_dir(raw_output_prefix: str) -> Callable[[], Path]:
    """Where a run keeps container data dirs: under a local raw output prefix, else in a temporary folder."""
    def choose() -> Path:
        if raw_output_prefix and "://" not in raw_output_prefix:
            return Path(raw_output_prefix) / "containers"
        return Path(tempfile.mkdtemp(prefix="flyrun-containers-"))

    return choose

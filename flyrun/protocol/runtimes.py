"""Where a raw container runs: ``docker`` or ``podman`` with its data folders mounted, or ``host`` (this machine,
with every mention of the data folders in its command replaced by the folders on disk)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from flyrun.protocol.templates import map_data_dirs

RUNTIMES = ("docker", "podman", "host")
ENGINES = ("docker", "podman")
_ENGINE_CHECK_SECONDS = 15


def runtime_problem(name: str) -> str | None:
    """Why ``name`` cannot run containers here (not installed, or its engine does not answer), or None."""
    if name == "host":
        return None
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


def first_engine() -> tuple[str | None, list[str]]:
    """The first of docker and podman that works, and why each one before it did not."""
    problems: list[str] = []
    for name in ENGINES:
        problem = runtime_problem(name)
        if problem is None:
            return name, problems
        problems.append(problem)
    return None, problems


def host_argv(words: list[str], data_dirs: Mapping[str, str]) -> list[str]:
    """The command on this machine: ``data_dirs`` maps each container folder to the folder on disk."""
    return map_data_dirs(words, data_dirs)


def engine_argv(runtime: str, image: str, words: list[str], data_dirs: Mapping[str, str],
                env: Mapping[str, str]) -> list[str]:
    """``docker run`` (or podman's) with each folder on disk mounted where the container expects it."""
    argv = [runtime, "run", "--rm"]
    for container_dir, host_dir in data_dirs.items():
        if container_dir:
            argv += ["-v", f"{host_dir}:{container_dir}"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    return [*argv, image, *words]

"""``ShellTask``: a task whose body is a shell script, templated with its inputs (flytekit's
``flytekit.extras.tasks.shell``).

The script is rendered with ``str.format``: ``{inputs.x}`` (FlyteFile and FlyteDirectory inputs are downloaded and
become local paths; datetimes ISO strings; other values ``str()``), ``{outputs.y}`` (each ``OutputLocation``'s
``location``, itself rendered with the inputs first) and ``{ctx.working_directory}``; literal braces are doubled.
It runs with ``shell=True`` under ``/bin/sh`` (or ``shell=``); a non-zero exit is a recoverable failure (retried
with ``retries=``) that shows the script's output. Outputs are FlyteFile or FlyteDirectory at their locations.

On the wire it is an ordinary python task whose container imports the module-level variable holding it; its name
is the ``name`` given (not module-qualified), as flytekit names it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from flyrun.errors import TaskExecutionError, WorkflowDefinitionError
from flyrun.exceptions.user import FlyteRecoverableException
from flyrun.sdk.entity import ModuleLevelEntity
from flyrun.sdk.interface import Interface
from flyrun.sdk.params import task_scope
from flyrun.sdk.task import (
    apply_python_task_options,
    cached_execute,
    run_with_retries,
)
from flyrun.types import engine

__all__ = ["OutputLocation", "ShellTask"]


@dataclass(frozen=True)
class OutputLocation:
    """Where the script leaves output ``var``: a FlyteFile or FlyteDirectory at ``location`` (templated)."""

    var: str
    var_type: type
    location: str


class _Names:
    """``{inputs.x}``: attribute access over a dict of rendered values, with a clear error for a wrong name."""

    def __init__(self, kind: str, values: dict[str, str]) -> None:
        self._kind, self._values = kind, values

    def __getattr__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(self._values) or "none"
            raise AttributeError(f"the script names {self._kind}.{name}, which is not declared (declared: "
                                 f"{known})") from None


class ShellTask(ModuleLevelEntity):
    kind = "task"
    task_type = "python-task"
    # Set by apply_python_task_options, as a python task has them.
    environment: dict[str, str]
    secret_requests: list[Any]

    def __init__(self, name: str, debug: bool = False, script: str | None = None, script_file: str | None = None,
                 task_config: Any = None, shell: str = "/bin/sh", inputs: dict[str, Any] | None = None,
                 output_locs: list[OutputLocation] | None = None, retries: int = 0, **options: Any) -> None:
        caller = inspect.stack()[1]
        where = f"{caller.filename}:{caller.lineno}: ShellTask '{name}'"
        if (script is None) == (script_file is None):
            raise WorkflowDefinitionError(f"{where}: give exactly one of script= and script_file=")
        if script_file is not None:
            with open(os.path.join(os.path.dirname(caller.filename), script_file)) as handle:
                script = handle.read()
        self.name = name
        self.script = script or ""
        self.shell = shell
        self.debug = debug
        self.output_locs = list(output_locs or [])
        self._module = caller.frame.f_globals.get("__name__", "__main__")
        outputs = {loc.var: loc.var_type for loc in self.output_locs}
        for loc in self.output_locs:
            if getattr(loc.var_type, "__name__", "") not in ("FlyteFile", "FlyteDirectory"):
                raise WorkflowDefinitionError(f"{where}: output '{loc.var}' must be a FlyteFile or FlyteDirectory")
        self.interface = Interface(inputs=dict(inputs or {}), outputs=outputs)
        apply_python_task_options(self, options, where, retries)


    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return cached_execute(self, inputs, lambda given: run_with_retries(self, given))

    def run_function(self, inputs: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
        with task_scope(self, inputs, attempt) as params:
            params.outputs = self.call_function(inputs, params)
            return params.outputs

    def call_function(self, inputs: dict[str, Any], params: Any) -> dict[str, Any]:
        given = _Names("inputs", {name: _rendered(value) for name, value in inputs.items()})
        try:
            locations = {loc.var: loc.location.format(inputs=given) for loc in self.output_locs}
            script = self.script.format(inputs=given, outputs=_Names("outputs", locations), ctx=params)
        except (AttributeError, KeyError, IndexError, ValueError) as exc:
            raise TaskExecutionError(self.name, exc) from None
        if self.debug:
            params.logging.info("%s: running\n%s", self.name, script)
        done = subprocess.run(script, shell=True, executable=self.shell, capture_output=True, text=True)
        if done.returncode != 0:
            listing = ", ".join(sorted(os.listdir("."))[:50])
            error = FlyteRecoverableException(
                f"the script exited with code {done.returncode}\nworking directory {os.getcwd()}: {listing}\n"
                f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}")
            raise TaskExecutionError(self.name, error)
        try:
            return {loc.var: engine.roundtrip(loc.var_type(locations[loc.var]), loc.var_type, output=True)
                    for loc in self.output_locs}
        except (engine.TypeMismatch, TypeError, OSError) as exc:
            raise TaskExecutionError(self.name, exc) from None

    def __repr__(self) -> str:
        return f"<shell task {self.name}>"


def _rendered(value: Any) -> str:
    if hasattr(value, "download") and hasattr(value, "remote_path"):  # FlyteFile, FlyteDirectory
        return str(value.download())
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)

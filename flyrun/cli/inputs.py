"""Command-line options derived from an entity's typed inputs, and the inputs file."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import click

from flyrun.errors import UsageError
from flyrun.types import engine

# Options of `flyrun run` (and the global ones) that may also follow the entity's inputs:
# (flags, destination, click.Option keyword arguments).
OptionSpec = tuple[list[str], str, dict[str, Any]]

GLOBAL_PASSTHROUGH: list[OptionSpec] = [
    (["-o", "--output"], "output", {"type": click.Choice(["text", "json"]), "help": "text or json"}),
    (["-v", "--verbose"], "verbose", {"is_flag": True, "default": None, "help": "Say more."}),
    (["-c", "--config"], "config", {"metavar": "FILE", "help": "Config file."}),
]
PASSTHROUGH_PREFIX = "flyrun__"


class InputType(click.ParamType):
    """Parses a command-line word into a value of the input's Python type via the type engine."""

    def __init__(self, python_type: Any) -> None:
        self.python_type = python_type
        self.name = engine.describe(python_type)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return engine.from_text(value, self.python_type)
        except engine.TypeMismatch as exc:
            self.fail(str(exc), param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        if isinstance(self.python_type, type) and issubclass(self.python_type, enum.Enum):
            return "[" + "|".join(str(m.value) for m in self.python_type) + "]"
        return self.name.upper() if self.name in ("int", "float", "str") else self.name


def entity_command(entity: Any, callback: Any, passthrough: list[OptionSpec]) -> click.Command:
    """A click command whose options are the entity's inputs: ``--x INTEGER``, ``--flag/--no-flag``.

    The ``passthrough`` options land under ``PASSTHROUGH_PREFIX + destination``; an input with the same long
    name wins over them.
    """
    params: list[click.Parameter] = []
    taken = set()
    for name, python_type in entity.interface.inputs.items():
        option = "--" + name
        taken.add(option)
        default = entity.interface.defaults.get(name)
        has_default = name in entity.interface.defaults
        shown = f"default: {engine.to_json(default, python_type)!r}" if has_default else "required"
        help_text = f"{engine.describe(python_type)}, {shown}"
        if python_type is bool:
            params.append(click.Option([f"{option}/--no-{name}", name], default=None, help=help_text))
        else:
            params.append(click.Option([option, name], type=InputType(python_type), default=None,
                                       help=help_text))
        taken.add(f"--no-{name}")
    for flags, destination, options in passthrough:
        free = [flag for flag in flags if flag not in taken]
        if free:
            params.append(click.Option([*free, PASSTHROUGH_PREFIX + destination], **options))
    doc = (getattr(getattr(entity, "fn", None), "__doc__", None) or "").strip()
    summary = f"Run {entity.kind} {entity.name}: {entity.signature()}"
    return click.Command(entity.short_name, params=params, callback=callback,
                         help=summary + ("\n\n" + doc if doc else ""),
                         context_settings={"help_option_names": ["-h", "--help"]})


def read_inputs_file(path: str, stdin: Any) -> dict[str, Any]:
    """Values from a YAML or JSON mapping; ``-`` reads standard input."""
    if path == "-":
        text, name = stdin.read(), "<stdin>"
    else:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"inputs file not found: {path}")
        text, name = file.read_text(encoding="utf-8"), path
    try:
        import json

        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"inputs file {name} is neither valid JSON nor YAML: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"inputs file {name} must hold a mapping of input names to values")
    return data


def merge_inputs(entity: Any, from_file: dict[str, Any], from_flags: dict[str, Any]) -> dict[str, Any]:
    """Flags win over the inputs file; both are checked against the entity's inputs."""
    inputs: dict[str, Any] = {}
    for name, value in from_file.items():
        if name not in entity.interface.inputs:
            raise UsageError(f"inputs file names '{name}', which {entity.name} does not take; inputs are: "
                             f"{', '.join(entity.interface.inputs) or 'none'}")
        try:
            inputs[name] = engine.from_json(value, entity.interface.inputs[name])
        except engine.TypeMismatch as exc:
            raise UsageError(f"inputs file, input '{name}': {exc}") from None
    inputs.update({name: value for name, value in from_flags.items() if value is not None})
    missing = [n for n in entity.interface.required_inputs if n not in inputs]
    if missing:
        name = missing[0]
        raise UsageError(f"missing required input --{name} ({engine.describe(entity.interface.inputs[name])})",
                         hint=f"pass --{name} VALUE, or see `--help` for {entity.short_name}")
    return inputs

"""``flyrun run``: load a file, build options from the entity's inputs, run it, render the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flyrun.cli.app import Application
from flyrun.cli.gcpolicy import restore_for_user_code
from flyrun.cli.options import apply_compat, compat_option, global_options
from flyrun.cli.remote_run import remote_options

if TYPE_CHECKING:
    from flyrun.cli.inputs import OptionSpec

# Options that may come before FILE or after the entity's inputs: (flags, destination, click keywords).
RUN_OPTIONS: list[OptionSpec] = [
    (["--inputs-file"], "inputs_file", {"metavar": "FILE",
                                        "help": "Inputs as YAML or JSON; '-' reads standard input."}),
    (["--raw-output-data-prefix"], "raw_output_data_prefix",
     {"metavar": "URI", "help": "Where outputs go: a folder, s3://... or gs://..."}),
    (["--overwrite-cache"], "overwrite_cache", {"is_flag": True, "default": None,
                                                "help": "Recompute cached tasks."}),
    (["--approve"], "approve", {"metavar": "GATE", "multiple": True,
                                "help": "Approve the approve() gate GATE (repeatable)."}),
    (["--reject"], "reject", {"metavar": "GATE", "multiple": True,
                              "help": "Reject the approve() gate GATE; the run fails (repeatable)."}),
    (["--signal"], "signal", {"metavar": "GATE=VALUE", "multiple": True,
                              "help": "The value for the wait_for_input() gate GATE (repeatable)."}),
    (["--secrets-dir"], "secrets_dir",
     {"metavar": "DIR", "help": "Local runs: the folder of secret files, DIR/<group>/<key> (default: "
                                "$FLYTE_SECRETS_DEFAULT_DIR, else /etc/secrets)."}),
    (["--container-runtime"], "container_runtime",
     {"type": click.Choice(["docker", "podman", "host"]), "default": None,
      "help": "Run container tasks with docker, podman, or on this machine (host). Default: docker or podman, "
              "whichever works."}),
]


def _run_options(func: Any) -> Any:
    for flags, destination, options in reversed(RUN_OPTIONS):
        func = click.option(*flags, destination, **options)(func)
    return func


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                 "help_option_names": ["-h", "--help"]})
@click.argument("target", nargs=-1, type=click.UNPROCESSED, metavar="FILE ENTITY [INPUTS]...",
                shell_complete=lambda ctx, param, incomplete: _complete_target(ctx, incomplete))
@click.option("--root-dir", type=click.Path(file_okay=False), help="Project root (default: the first folder "
              "above FILE without an __init__.py).")
@compat_option
@_run_options
@remote_options
@global_options
@click.pass_obj
def run(app: Application, target: tuple[str, ...], root_dir: str | None, flytekit_compat: bool,
        **run_options: Any) -> None:
    """Run a task or workflow from FILE with inputs from its signature.

    \b
    flyrun run examples/hello.py wf --x 3      FILE ENTITY
    flyrun run examples/hello.py:wf --x 3      FILE:ENTITY
    flyrun run pkg.flows wf                    a dotted module under the project root
    flyrun run pkg.flows.wf                    the same, as one word
    flyrun run wf --x 3                        an entity name, found under the current folder
    flyrun run examples/hello.py               list the tasks and workflows in a file
    flyrun run examples/hello.py wf --help     list an entity's inputs
    flyrun run --remote --wait examples/hello.py wf --x 3   on a Flyte cluster or `flyrun sandbox`
    flyrun run --remote hello.wf --x 3         launch what the server already has (latest version)
    flyrun run --flytekit-compat flow.py wf    a flytekit program, its imports unchanged

    Options of `run` go before FILE; --inputs-file, --raw-output-data-prefix, --overwrite-cache and the gate
    options may also follow the inputs.
    """
    from flyrun import loader

    words = list(target)
    if run_options["remote"] and _only_on_server(words, root_dir):
        _run_registered(app, words[0], words[1:], run_options)
        return
    apply_compat(app, flytekit_compat)
    chosen = loader.resolve_target(words, Path.cwd(), root_dir)
    app.debug(f"project root: {chosen.location.root}; module: {chosen.location.module_name}")
    module = loader.import_location(chosen.location)
    shown = _display_path(chosen.location.file)
    if chosen.entity_name is None:
        _list_entities(app, loader.entities_in(module), shown)
        return
    entity = loader.get_entity(module, chosen.entity_name, shown)
    input_words = words[chosen.consumed:]
    if entity.kind == "launch_plan":
        entity.check_not_fixed([w[2:].partition("=")[0].replace("-", "_") for w in input_words if w.startswith("--")])

    from flyrun.cli.inputs import GLOBAL_PASSTHROUGH, entity_command

    def launch(**flags: Any) -> None:
        _apply_passthrough(app, flags, run_options)
        if run_options["remote"]:
            from flyrun.cli.remote_run import run_remote

            run_remote(app, entity, _gather_inputs(app, entity, flags, run_options), run_options, root_dir)
        else:
            _run_entity(app, entity, flags, run_options)

    command = entity_command(entity, launch, GLOBAL_PASSTHROUGH + RUN_OPTIONS)
    command.main(args=input_words, prog_name=f"flyrun run {shown} {chosen.entity_name}",
                 standalone_mode=False, obj=app)


def _apply_passthrough(app: Application, flags: dict[str, Any], run_options: dict[str, Any]) -> None:
    """Move options given after the inputs out of ``flags``; they win over the same options given before."""
    from flyrun.cli.inputs import PASSTHROUGH_PREFIX

    for key in [k for k in flags if k.startswith(PASSTHROUGH_PREFIX)]:
        value, name = flags.pop(key), key[len(PASSTHROUGH_PREFIX):]
        if isinstance(value, tuple):  # repeatable options add up wherever they were given
            run_options[name] = tuple(run_options.get(name) or ()) + value
        elif value is not None:
            run_options[name] = value
    output = run_options.pop("output", None)
    if output:
        app.output = output
    if run_options.pop("verbose", None):
        app.verbose = True
    config = run_options.pop("config", None)
    if config:
        app.use_config(config)


def _only_on_server(words: list[str], root_dir: str | None) -> bool:
    """``flyrun run --remote NAME``: NAME is no file or module here, and no Python file under here defines it."""
    from flyrun import loader

    if not words or (len(words) > 1 and not words[1].startswith("-")):
        return False
    name = words[0]
    if name.endswith(".py") or ":" in name or Path(name).exists():
        return False
    module, _, short = name.rpartition(".")
    if not short.isidentifier():
        return False
    if module:  # a full name, module.function: local if that module is a file under the root that defines it
        module_file = loader.module_file_for(module, Path(root_dir or Path.cwd()).resolve())
        return module_file is None or short not in loader.defined_entity_names(module_file)
    return not loader.scan_for_entity(short, Path.cwd())


def _run_registered(app: Application, name: str, input_words: list[str], run_options: dict[str, Any]) -> None:
    from flyrun.cli.inputs import GLOBAL_PASSTHROUGH, entity_command
    from flyrun.cli.remote_common import project_domain
    from flyrun.cli.remote_run import launch_registered
    from flyrun.remote.client import AdminClient
    from flyrun.remote.registered import find_registered

    project, domain = project_domain(app, run_options["project"], run_options["domain"])
    with app.admin_session() as session:
        found = find_registered(AdminClient(session), name, project, domain, run_options["version"])

    def launch(**flags: Any) -> None:
        _apply_passthrough(app, flags, run_options)
        launch_registered(app, found, _gather_inputs(app, found, flags, run_options), run_options)

    command = entity_command(found, launch, GLOBAL_PASSTHROUGH + RUN_OPTIONS)
    command.main(args=input_words, prog_name=f"flyrun run --remote {name}", standalone_mode=False, obj=app)


def _gather_inputs(app: Application, entity: Any, flags: dict[str, Any], run_options: dict[str, Any]) -> dict:
    from flyrun.cli.inputs import merge_inputs, read_inputs_file

    inputs_file = run_options.get("inputs_file")
    from_file = read_inputs_file(inputs_file, app.env.stdin) if inputs_file else {}
    if getattr(entity, "kind", "") == "launch_plan":
        entity.check_not_fixed(list(from_file))
    return merge_inputs(entity, from_file, flags)


def _run_entity(app: Application, entity: Any, flags: dict[str, Any], run_options: dict[str, Any]) -> None:
    from flyrun.cli.progress import transfer_progress
    from flyrun.cli.render import render_outputs
    from flyrun.local.runner import LocalRunSettings, run_locally
    from flyrun.local.streams import task_output_to_stderr

    inputs = _gather_inputs(app, entity, flags, run_options)
    settings = LocalRunSettings(raw_output_prefix=run_options.get("raw_output_data_prefix"),
                                cache_dir=lambda: app.config.get("cache.dir"),
                                load_storage=lambda: _storage_settings(app),
                                transfer_progress=transfer_progress(app),
                                overwrite_cache=bool(run_options.get("overwrite_cache")),
                                approve=tuple(run_options.get("approve") or ()),
                                reject=tuple(run_options.get("reject") or ()),
                                signals=_signals(run_options.get("signal") or ()),
                                interactive=app.env.interactive,
                                container_runtime=run_options.get("container_runtime"),
                                secrets_dir=run_options.get("secrets_dir"))
    restore_for_user_code()
    with task_output_to_stderr():  # stdout carries the results only
        outputs = run_locally(entity, inputs, settings, notify=app.info, ask=app.ask, debug=app.debug)
    render_outputs(app, outputs, entity.interface.outputs)


def _complete_target(ctx: click.Context, incomplete: str) -> list[Any]:
    """Complete FILE, then the tasks and workflows FILE defines, read from its syntax tree (nothing runs)."""
    from click.shell_completion import CompletionItem

    from flyrun.loader import defined_entity_names

    words = ctx.params.get("target") or ()
    if not words:
        return [CompletionItem(incomplete, type="file")]
    if len(words) == 1 and words[0].endswith(".py") and Path(words[0]).is_file():
        names = defined_entity_names(Path(words[0]))
        return [CompletionItem(name) for name in names if name.startswith(incomplete)]
    return []


def _signals(words: tuple[str, ...]) -> dict[str, str]:
    from flyrun.errors import UsageError

    signals: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or not name:
            raise UsageError(f"--signal {word}: expected GATE=VALUE", hint="e.g. --signal count=3")
        if name in signals:
            raise UsageError(f"--signal {name} is given twice")
        signals[name] = value
    return signals


def _storage_settings(app: Application) -> tuple[str | None, dict[str, Any]]:
    """The config's raw output prefix and storage options; read only once a task touches files."""
    from flyrun.data.fs import storage_options_from_config

    config = app.config
    return config.get("storage.raw-output-data-prefix"), storage_options_from_config(config, app.env.environ)


def _list_entities(app: Application, entities: dict[str, Any], shown: str) -> None:
    if app.json_output:
        app.print_json({"file": shown, "entities": [
            {"name": name, "kind": e.kind, "id": e.name, "signature": e.signature()} for name, e in entities.items()]})
        return
    if not entities:
        app.info(f"{shown} defines no tasks or workflows.")
        return
    for kind in ("workflow", "launch_plan", "task", "reference"):
        rows = [e for e in entities.values() if e.kind == kind]
        if rows:
            app.echo(f"{kind.replace('_', ' ').capitalize()}s in {shown}:")
            for entity in rows:
                app.echo(f"  {entity.signature()}")


def _display_path(file: Path) -> str:
    import os

    relative = os.path.relpath(file)
    return str(file) if relative.startswith("..") else relative

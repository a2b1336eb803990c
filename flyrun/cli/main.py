"""The root command: a lazy group, the global options, and the one map from errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from flyrun.__about__ import __version__
from flyrun.cli import gcpolicy
from flyrun.cli.app import Abort, Application, Environment
from flyrun.cli.options import global_options
from flyrun.errors import ExitStatus, FlyrunError

# name -> "module:attribute"; a command's module is imported only when that command runs.
COMMANDS: dict[str, str] = {
    "run": "flyrun.cli.run:run",
    "register": "flyrun.cli.register:register",
    "executions": "flyrun.cli.executions:executions",
    "approve": "flyrun.cli.signals:approve",
    "reject": "flyrun.cli.signals:reject",
    "set-input": "flyrun.cli.signals:set_input",
    "signals": "flyrun.cli.signals:signals",
    "completion": "flyrun.cli.completion:completion",
    "config": "flyrun.cli.config:config",
    "auth": "flyrun.cli.auth:auth",
    "cache": "flyrun.cli.cache:cache",
    "package": "flyrun.cli.package:package",
    "sandbox": "flyrun.cli.sandbox:sandbox",
    "launchplan": "flyrun.cli.launchplan:launchplan",
    "build": "flyrun.cli.build:build",
}

COMMAND_HELP: dict[str, str] = {
    "run": "Run a task or workflow from a Python file, here or (with --remote) on a Flyte cluster.",
    "register": "Register tasks, workflows and launch plans on the server without running them.",
    "executions": "List, inspect, follow and stop executions on the server.",
    "approve": "Approve an approve() gate of a remote execution.",
    "reject": "Reject an approve() gate of a remote execution.",
    "set-input": "Give a value to a wait_for_input() gate of a remote execution.",
    "signals": "List the gates a remote execution has reached.",
    "completion": "Print the shell completion script for bash, zsh or fish.",
    "config": "Show, create and check configuration.",
    "auth": "Sign in to a Flyte endpoint, show or remove stored tokens.",
    "cache": "Show or clear the local cache of cache=True tasks.",
    "package": "Serialize tasks and workflows for a Flyte cluster and bundle the code.",
    "sandbox": "Start, inspect or stop a local Flyte-compatible server.",
    "launchplan": "Activate, deactivate and list launch plans (and their schedules) on the server.",
    "build": "Build the images that ImageSpecs describe, with docker or podman.",
}


def build_root() -> click.Group:
    # Built at call time so that, for rich help, the click classes patched by rich-click are the ones used.
    class LazyGroup(click.Group):
        def list_commands(self, ctx: click.Context) -> list[str]:
            return sorted(COMMANDS)

        def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
            target = COMMANDS.get(name)
            if target is None:
                return None
            import importlib

            module_name, attribute = target.split(":")
            return getattr(importlib.import_module(module_name), attribute)

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            # Listing short help must not import every subcommand module.
            rows = [(name, COMMAND_HELP.get(name, "")) for name in self.list_commands(ctx)]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="flyrun", message="%(prog)s %(version)s")
    @global_options
    def flyrun() -> None:
        """flyrun: run Flyte tasks and workflows, fast.

        \b
        flyrun run examples/hello.py wf --x 3          run locally
        flyrun run --remote examples/hello.py wf --x 3 run on a Flyte cluster or `flyrun sandbox`
        """

    return flyrun


def _wants_rich_help(argv: Sequence[str], env: Environment) -> bool:
    asks_help = not argv or "--help" in argv or "-h" in argv
    styled = env.stdout_isatty or "FORCE_COLOR" in env.environ
    return asks_help and styled and "NO_COLOR" not in env.environ


def run_cli(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI and return its exit status; nothing here calls ``sys.exit``."""
    argv = list(sys.argv[1:] if argv is None else argv) or ["--help"]  # bare `flyrun`: the help, exit 0
    app = Application(env)
    if _wants_rich_help(argv, app.env):
        from rich_click.patch import patch

        patch()
    root = build_root()
    if "_FLYRUN_COMPLETE" in os.environ:  # a completion script calls back: answer in its format, whatever click's is
        from flyrun.cli.completion import use_flyrun_scripts

        use_flyrun_scripts()
    try:
        root.main(args=argv, prog_name="flyrun", obj=app, standalone_mode=False)
    except Abort as abort:
        return abort.status
    except FlyrunError as error:
        return _report(app, error)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        _report_click_error(app, error)
        return ExitStatus.USAGE if isinstance(error, click.UsageError) else error.exit_code
    except (KeyboardInterrupt, click.Abort):
        app.info("Interrupted.")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        return ExitStatus.SUCCESS
    except Exception as error:  # a bug in flyrun: say so, traceback only when asked
        app.info(f"Error: internal error: {type(error).__name__}: {error}")
        if app.verbose:
            import traceback

            app.info("".join(traceback.format_exception(error)).rstrip())
        else:
            app.info("Hint: run again with -v for the traceback, and please report it")
        return ExitStatus.INTERNAL_ERROR
    return ExitStatus.SUCCESS


def _report(app: Application, error: FlyrunError) -> int:
    from flyrun.cli.render import render_error

    render_error(app, error)
    return int(error.exit_status)


def _report_click_error(app: Application, error: click.ClickException) -> None:
    message = error.format_message()
    command = getattr(getattr(error, "ctx", None), "command_path", None)
    app.info(f"Error: {message}")
    if command:
        app.info(f"Hint: see `{command} --help`")


def main() -> None:
    gcpolicy.collect_rarely_while_starting()
    status = run_cli()
    gcpolicy.skip_the_exit_walk()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()

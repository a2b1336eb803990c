"""``flyrun completion SHELL``: print the shell completion script for bash, zsh or fish."""

from __future__ import annotations

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_FLYRUN_COMPLETE"


def completion_script(shell: str) -> str:
    """The script click generates for ``shell``; it calls back into flyrun for each completion."""
    from click.shell_completion import get_completion_class

    from flyrun.cli.main import build_root

    completer = get_completion_class(shell)
    return completer(build_root(), {}, "flyrun", COMPLETE_VAR).source()


def _known_shell(ctx: click.Context, param: click.Parameter, shell: str) -> str:
    if shell not in SHELLS:
        from flyrun.errors import UsageError

        raise UsageError(f"flyrun has no completion script for {shell}: the shells are {', '.join(SHELLS)}")
    return shell


@click.command()
@click.argument("shell", metavar="SHELL", callback=_known_shell,
                shell_complete=lambda ctx, param, incomplete: [s for s in SHELLS if s.startswith(incomplete)])
@global_options
@click.pass_obj
def completion(app: Application, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(flyrun completion bash)"      (or copy completions/flyrun.bash)
    zsh:   eval "$(flyrun completion zsh)"
    fish:  flyrun completion fish | source
    """
    app.echo(completion_script(shell).rstrip("\n"))

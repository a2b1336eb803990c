"""Options shared by every command: ``-c/--config``, ``-v/--verbose``, ``-o/--output``.

They are accepted both before and after the subcommand; whichever is given sets the one application object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.obj.use_config(value)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.obj.verbose = True


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.obj.output = value


def global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("-c", "--config", metavar="FILE", expose_value=False, is_eager=True,
                        callback=_set_config, help="Config file (default: ~/.flyrun/config.yaml, "
                        "then ~/.flyte/config.yaml).")(func)
    func = click.option("-v", "--verbose", is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_verbose, help="Say more, and show tracebacks.")(func)
    func = click.option("-o", "--output", type=click.Choice(["text", "json"]), default=None,
                        expose_value=False, is_eager=True, callback=_set_output,
                        help="text for people, json for scripts.")(func)
    return func


def key_value_pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """Parse repeated ``K=V`` values, naming the option when one has no ``=``."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        pairs[key] = value
    return pairs


def compat_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--flytekit-compat``: the command's modules import flytekit's names as flyrun's (``flyrun.compat``)."""
    return click.option("--flytekit-compat", "flytekit_compat", is_flag=True,
                        help="Run a flytekit program unchanged: its `flytekit` imports give flyrun's names "
                             "(also `compat: flytekit` in config).")(func)


def apply_compat(app: Any, flag: bool) -> None:
    """Turn on the compatibility mode the flag or the config asks for, before any user module is imported."""
    mode = "flytekit" if flag else (app.config.get("compat") or "") if app.config_may_be_set("FLYRUN_COMPAT") else ""
    if mode:
        from flyrun.compat import install

        install(mode)

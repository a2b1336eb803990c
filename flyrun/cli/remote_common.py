"""What the remote commands share: -p/-d options, naming an execution, and an admin client for the command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from flyrun.cli.app import Application


def project_domain_options(func: Any) -> Any:
    func = click.option("-d", "--domain", help="Flyte domain (default: config task.domain).")(func)
    return click.option("-p", "--project", help="Flyte project (default: config task.project).")(func)


def project_domain(app: Application, project: str | None, domain: str | None) -> tuple[str, str]:
    """The -p/-d options, else config ``task.project`` / ``task.domain`` (flytesnacks / development)."""
    return project or app.config.get("task.project"), domain or app.config.get("task.domain")


def execution_id(app: Application, name: str, project: str | None, domain: str | None) -> Any:
    """``NAME`` in the chosen project and domain, or a full ``PROJECT/DOMAIN/NAME``."""
    from flyrun.errors import UsageError
    from flyrun.remote.client import ExecutionId

    parts = name.strip("/").split("/")
    if len(parts) == 3:
        return ExecutionId(*parts)
    if len(parts) != 1 or not parts[0]:
        raise UsageError(f"{name!r} is not an execution name or PROJECT/DOMAIN/NAME")
    return ExecutionId(*project_domain(app, project, domain), name)


@contextlib.contextmanager
def admin_client(app: Application) -> Iterator[Any]:
    from flyrun.remote.client import AdminClient

    with app.admin_session() as session:
        yield AdminClient(session)

"""Run a task or a workflow on this machine, in this process (map items may fan out to workers)."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flyrun.sdk.context import ExecutionContext, use_context


@dataclass
class LocalRunSettings:
    raw_output_prefix: str | None = None
    storage_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Called the first time a task touches files: (configured raw output prefix or None, storage options).
    # The configured prefix applies unless raw_output_prefix was given; storage_options win over the loaded ones.
    load_storage: Callable[[], tuple[str | None, dict[str, dict[str, Any]]]] | None = None
    transfer_progress: Callable[..., Any] | None = None
    cache_dir: str | None = None
    overwrite_cache: bool = False
    # Answers for gates given on the command line: approvals, rejections and signal values by gate name.
    approve: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    signals: dict[str, str] = field(default_factory=dict)
    interactive: bool = False
    container_runtime: str | None = None


def new_execution_id() -> str:
    return "local-" + secrets.token_hex(5)


def build_context(settings: LocalRunSettings, notify: Callable[[str], None]) -> ExecutionContext:
    execution_id = new_execution_id()
    prefix = settings.raw_output_prefix or os.path.join(tempfile.gettempdir(), "flyrun-local", execution_id)
    return ExecutionContext(
        raw_output_prefix=_trimmed(prefix),
        storage_options=settings.storage_options,
        load_storage=_storage_loader(settings),
        transfer_progress=settings.transfer_progress,
        overwrite_cache=settings.overwrite_cache,
        notify=notify,
        container_runtime=settings.container_runtime,
        execution_id=execution_id,
    )


def _storage_loader(settings: LocalRunSettings) -> Callable[[ExecutionContext], None] | None:
    if settings.load_storage is None:
        return None
    load = settings.load_storage

    def apply(context: ExecutionContext) -> None:
        configured_prefix, options = load()
        if configured_prefix and not settings.raw_output_prefix:
            context.raw_output_prefix = _trimmed(configured_prefix)
        context.storage_options = {**options, **settings.storage_options}

    return apply


def _trimmed(prefix: str) -> str:
    # A local folder becomes absolute (outputs name where they are, whatever a task's working directory);
    # "s3://bucket/" -> "s3://bucket", but a bare scheme keeps its meaning.
    if prefix.startswith("file://"):
        prefix = prefix[len("file://"):] or "/"
    if "://" not in prefix:
        return os.path.abspath(os.path.expanduser(prefix))
    stripped = prefix.rstrip("/")
    return prefix if stripped.endswith(":") else stripped


def run_locally(entity: Any, inputs: dict[str, Any], settings: LocalRunSettings,
                notify: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Check the inputs, run the entity and return its outputs by name."""
    context = build_context(settings, notify)
    with use_context(context):
        complete = entity.complete_inputs(inputs)
        return entity.local_execute(complete)

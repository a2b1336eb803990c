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
        raw_output_prefix=prefix.rstrip("/"),
        storage_options=settings.storage_options,
        overwrite_cache=settings.overwrite_cache,
        notify=notify,
        container_runtime=settings.container_runtime,
        execution_id=execution_id,
    )


def run_locally(entity: Any, inputs: dict[str, Any], settings: LocalRunSettings,
                notify: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Check the inputs, run the entity and return its outputs by name."""
    context = build_context(settings, notify)
    with use_context(context):
        complete = entity.complete_inputs(inputs)
        return entity.local_execute(complete)

"""The numbers and sizes the sandbox accepts at registration and launch, each refused with a 400 that says why.

Any client can register a task and launch it, so nothing it sends may make the server loop, sleep, or echo
megabytes back: retries are capped (and attempts back off), durations must not be negative, names and
``max_parallelism`` have bounds, and a container must have something to run.
"""

from __future__ import annotations

from typing import Any

from flyrun.sandbox.admin.wire import invalid

MAX_RETRIES = 10  # attempts = retries + 1; propeller's own default budget for system failures is 3
MAX_NAME = 255  # project, domain, name and version of an identifier; a project's display name
MAX_DESCRIPTION = 4096
MAX_PARALLELISM = 10_000
BACKOFF_FIRST = 0.2  # seconds before the 2nd attempt; doubled for each later one
BACKOFF_MAX = 10.0


def check_text(field: str, value: str, limit: int = MAX_NAME) -> None:
    if len(value) > limit:
        raise invalid(f"{field} is {len(value):,} characters long; the most allowed is {limit}")


def check_identifier(identifier: Any) -> None:
    for field in ("project", "domain", "name", "version"):
        check_text(field, getattr(identifier, field, ""))


def check_retries(owner: str, retries: int) -> None:
    if retries > MAX_RETRIES:
        raise invalid(f"{owner} asks for {retries} retries; the most allowed is {MAX_RETRIES}")


def check_duration(owner: str, field: str, duration: Any) -> None:
    if duration.seconds < 0 or duration.nanos < 0:
        raise invalid(f"{owner} has a negative {field} ({duration.ToJsonString()}); use a positive duration, "
                      "or leave it unset for none")


def check_task_template(template: Any) -> None:
    """Retries, timeout and the container of a task about to be registered."""
    owner = f"task {template.id.name}"
    metadata = template.metadata
    check_retries(owner, metadata.retries.retries)
    if metadata.HasField("timeout"):
        check_duration(owner, "timeout", metadata.timeout)
    if template.HasField("container") and not template.container.command and not template.container.args:
        raise invalid(f"{owner} has a container with no command and no args: nothing to run; give it args "
                      "(flyrun-execute ... or a program)")


def check_node(workflow: str, node: Any) -> None:
    """A workflow node's own retries and timeout (they override its task's)."""
    owner = f"node {node.id!r} of workflow {workflow}"
    check_retries(owner, node.metadata.retries.retries)
    if node.metadata.HasField("timeout"):
        check_duration(owner, "timeout", node.metadata.timeout)


def check_execution_spec(spec: Any) -> None:
    if not 0 <= spec.max_parallelism <= MAX_PARALLELISM:
        raise invalid(f"max_parallelism {spec.max_parallelism} is out of range; use 0 (no limit) to "
                      f"{MAX_PARALLELISM}")


def backoff(attempt: int) -> float:
    """Seconds to wait before ``attempt`` (1 = the first retry): exponential, capped."""
    return min(BACKOFF_FIRST * 2 ** max(attempt - 1, 0), BACKOFF_MAX)

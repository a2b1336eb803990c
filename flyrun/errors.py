"""The error tree and the one home of exit codes.

Library code raises these; only ``flyrun.cli`` turns them into a message and an exit status.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    INTERNAL_ERROR = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    SERVER = 5
    RUN_FAILED = 6
    TIMEOUT = 7
    INTERRUPTED = 130


class FlyrunError(Exception):
    """Base of every error a user can act on: a one-line message and an optional hint."""

    exit_status: ExitStatus = ExitStatus.INTERNAL_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(FlyrunError):
    """Bad input from the user: a flag, a value, a path, an entity name."""

    exit_status = ExitStatus.USAGE


class UserCodeError(UsageError):
    """The user's module failed to import (syntax error, import error, bad workflow definition)."""


class WorkflowDefinitionError(UserCodeError):
    """A mistake in a workflow's wiring, found while tracing it at import time."""


class NotFoundError(UsageError):
    """The server has no such entity, execution or signal (HTTP 404)."""


class AlreadyExistsError(UsageError):
    """The server already has an identical entity (HTTP 409, gRPC ALREADY_EXISTS)."""


class InvalidArgumentError(UsageError):
    """The server refused a request as invalid (HTTP 400, gRPC INVALID_ARGUMENT)."""


class ConfigError(FlyrunError):
    exit_status = ExitStatus.CONFIG


class AuthError(FlyrunError):
    exit_status = ExitStatus.AUTH


class ServerError(FlyrunError):
    """The server, the network or a storage backend failed."""

    exit_status = ExitStatus.SERVER


class StorageError(ServerError):
    pass


class RunFailedError(FlyrunError):
    """The run itself failed: a task raised, a gate was rejected, an execution ended FAILED."""

    exit_status = ExitStatus.RUN_FAILED


class TaskExecutionError(RunFailedError):
    """A user task raised; keeps the original exception so the CLI can show the user's own frames."""

    def __init__(self, task_name: str, error: BaseException, context: str = "",
                 frames: list[tuple[str, int, str, str]] | None = None) -> None:
        where = f" ({context})" if context else ""
        # An error from another process is known by the type name it had there.
        type_name = getattr(error, "type_name", type(error).__name__)
        super().__init__(f"task {task_name}{where} failed: {type_name}: {error}")
        self.task_name = task_name
        self.error = error
        # (file, line, function, source) of a traceback that happened elsewhere (a map worker), if any.
        self.frames = frames


class TimeoutExpired(FlyrunError):
    exit_status = ExitStatus.TIMEOUT

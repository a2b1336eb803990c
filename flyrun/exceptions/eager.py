"""flytekit's ``flytekit.exceptions.eager``: what a failed call inside an ``@eager`` body raises.

flyrun raises a ``TaskExecutionError`` naming the failed task (its ``error`` is the task's own exception), so
``except EagerException`` in a ported eager workflow catches exactly that.
"""

from flyrun.errors import TaskExecutionError

EagerException = TaskExecutionError

__all__ = ["EagerException"]

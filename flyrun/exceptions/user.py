"""Exceptions a task raises to tell the runner how to treat its failure."""

from __future__ import annotations


class FlyteRecoverableException(RuntimeError):
    """A failure worth retrying (a flaky service, a preempted machine): with ``retries=N`` the task runs again,
    locally and on a cluster, and a retry can read the checkpoint the failed attempt saved."""

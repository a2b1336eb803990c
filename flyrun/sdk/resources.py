"""``Resources``: CPU, memory and GPU of a task (``requests=``/``limits=``) or a node (``with_overrides``).

A module of its own so that ``sdk/overrides.py`` can check overrides without importing the task module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resources:
    """CPU, memory and GPU for ``requests=``/``limits=``, in Kubernetes quantities (``"500m"``, ``"2Gi"``)."""

    cpu: str | int | float | None = None
    mem: str | None = None
    gpu: str | int | None = None
    ephemeral_storage: str | None = None

    def items(self) -> list[tuple[str, str]]:
        named = (("cpu", self.cpu), ("memory", self.mem), ("gpu", self.gpu),
                 ("ephemeral_storage", self.ephemeral_storage))
        return [(name, str(value)) for name, value in named if value is not None]

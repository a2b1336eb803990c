"""``Labels`` and ``Annotations``: the key/value maps a launch plan or an execution carries (flytekit's shape:
the mapping is in ``.values``)."""

from __future__ import annotations


class Labels:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.values!r})"


class Annotations(Labels):
    pass

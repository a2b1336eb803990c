"""Extending flyrun (as ``flytekit.extend``): ``TypeEngine``, ``TypeTransformer`` for your own types, and
``Interface``, a task's typed inputs and outputs."""

from flyrun.sdk.interface import Interface
from flyrun.types.custom import TypeEngine, TypeTransformer, TypeTransformerFailedError

__all__ = ["Interface", "TypeEngine", "TypeTransformer", "TypeTransformerFailedError"]

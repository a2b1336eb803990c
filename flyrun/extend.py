"""Extending flyrun with your own types (as ``flytekit.extend``): ``TypeEngine``, ``TypeTransformer``."""

from flyrun.types.custom import TypeEngine, TypeTransformer, TypeTransformerFailedError

__all__ = ["TypeEngine", "TypeTransformer", "TypeTransformerFailedError"]

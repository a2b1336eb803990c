"""``from flyrun.core.context_manager import FlyteContext, FlyteContextManager``, as
``flytekit.core.context_manager``."""

from flyrun.data.flytecontext import ExecutionState, FileAccessProvider, FlyteContext, FlyteContextManager

__all__ = ["ExecutionState", "FileAccessProvider", "FlyteContext", "FlyteContextManager"]

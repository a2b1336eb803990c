"""Configuration: Flyte's YAML format, one table of items, and where each value came from.

``Config`` and ``load_config`` load on first use, so ``flyrun.config.paths`` (is there a config file?) costs a local
run nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyrun.config.loader import Config, load_config

__all__ = ["Config", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flyrun.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'flyrun.config' has no attribute {name!r}")

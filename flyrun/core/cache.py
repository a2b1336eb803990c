"""``from flyrun.core.cache import Cache, CachePolicy, VersionParameters``, as ``flytekit.core.cache``."""

from flyrun.sdk.cache import Cache, CachePolicy, VersionParameters

__all__ = ["Cache", "CachePolicy", "VersionParameters"]

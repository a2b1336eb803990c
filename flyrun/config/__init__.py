"""Configuration: Flyte's YAML format, one table of items, and where each value came from."""

from flyrun.config.loader import Config, load_config

__all__ = ["Config", "load_config"]
